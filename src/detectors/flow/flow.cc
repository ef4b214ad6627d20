#include "detectors/flow/flow.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <tuple>

#include "common/strings.h"
#include "common/timeutil.h"
#include "detectors/common/alert_tracker.h"
#include "common/hash.h"
#include "detectors/common/label_template.h"
#include "pipeline/component.h"

namespace sluice::detectors {
namespace {

constexpr uint8_t kNone = 0xFF;
constexpr size_t kInlineKey = 36;
constexpr uint8_t kLongKey = 0xFF;  // Flow::key_len: the key is in Shard::long_keys
constexpr size_t kMaxStages = 64;

enum Status : uint8_t { kActive = 0, kMissed = 1, kFailed = 2, kDone = 3 };

// One order in flight. 48 bytes: with its 8-byte hash, a 56-byte slot.
struct Flow {
  int64_t last_seen = 0;  // event time of the furthest stage, the failure or the completion
  uint8_t stage = kNone;  // furthest stage seen
  uint8_t failed = kNone; // failed stage, when status is kFailed
  uint8_t status = kActive;
  uint8_t key_len = 0;
  char key[kInlineKey];
};
static_assert(sizeof(Flow) == 48, "keep a flow's state small: 1M orders in 256 MiB");

struct Stage {
  std::string name;
  int64_t within_ms = 0;
  std::unique_ptr<Condition> match;
  YAML::Node match_node;
  Histogram* latency = nullptr;
  Gauge* in_flight = nullptr;
  Counter* missed = nullptr;
};

std::vector<double> FlowLatencyBuckets() {
  return {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
}

// State blob: magic, stage names (so a changed rule maps stages by name),
// then one record per flow, then an end marker.
constexpr uint64_t kMagic = 0x31574f4c46554c53ull;  // "SLUFLOW1"
constexpr uint64_t kEndMagic = 0x444e45574f4c4653ull;

class FlowDetector : public Detector {
 public:
  FlowDetector(const RuleSpec* spec, const DetectorEnv& env, int key_field, std::string key_label,
               std::vector<Stage> stages, std::vector<Stage> failed, int64_t retention_ms, size_t max_flows,
               size_t max_alerts, std::unique_ptr<Condition> implied)
      : Detector(spec, env),
        key_field_(key_field),
        key_label_(std::move(key_label)),
        stages_(std::move(stages)),
        failed_(std::move(failed)),
        retention_ms_(retention_ms),
        cap_per_shard_(std::max<size_t>(1, max_flows / kShards)),
        max_alerts_(max_alerts),
        implied_(std::move(implied)) {
    key_fields_ = {key_field_};
    lateness_ms_ = env.allowed_lateness_ms;
    // Which stage an event is, in the order Apply asks: the failed stages,
    // then the stages from the last to the first (the furthest that holds).
    value_source_ = ValueSource::kSelector;
    for (const Stage& f : failed_) selectors_.push_back(f.match.get());
    for (size_t j = stages_.size(); j-- > 0;) selectors_.push_back(stages_[j].match.get());
    MetricsRegistry* m = env.metrics ? env.metrics : &own_metrics_;
    const std::string& rule = spec->name;
    for (Stage& s : stages_) {
      Labels l = {{"rule", rule}, {"stage", s.name}};
      s.latency = m->GetHistogram("sluice_flow_stage_latency_seconds",
                                  "Time from the previous stage to this one, per flow rule and stage.", l,
                                  FlowLatencyBuckets());
      s.in_flight = m->GetGauge("sluice_flow_in_flight", "Flows whose furthest stage is this one.", l);
      s.missed = m->GetCounter("sluice_flow_missed_deadlines_total",
                               "Flows that missed the deadline to reach this stage.", l);
    }
    auto outcome = [&](const char* o) {
      return m->GetCounter("sluice_flow_outcomes_total",
                           "Flows ended: completed, failed, lost (missed and given up after retention), "
                           "unknown (evicted at max_flows).",
                           {{"rule", rule}, {"outcome", o}});
    };
    completed_ = outcome("completed");
    failed_total_ = outcome("failed");
    lost_ = outcome("lost");
    unknown_ = outcome("unknown");
    overdue_ = m->GetGauge("sluice_flow_overdue",
                           "Flows past a stage deadline or failed, not yet given up (alerted up to max_alerts).",
                           {{"rule", rule}});
    no_key_ = m->GetCounter("sluice_flow_events_without_key_total", "Stage events without the flow's key field.",
                            {{"rule", rule}});
  }

  std::unique_ptr<Condition> TakeImpliedMatch() override { return std::move(implied_); }

  void Apply(size_t shard, const Update* u, size_t n, const Batch& batch,
             std::vector<SampleCandidate>* samples) override {
    Shard& s = shards_[shard];
    int64_t newest = INT64_MIN;
    for (size_t i = 0; i < n; ++i) newest = std::max(newest, u[i].ts);
    int64_t seen = newest_seen_.load(std::memory_order_relaxed);
    while (newest > seen && !newest_seen_.compare_exchange_weak(seen, newest, std::memory_order_relaxed)) {
    }
    const int64_t late_before = late_before_.load(std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(s.mu);
    for (size_t i = 0; i < n; ++i) {
      const Update& up = u[i];
      // Which stage: a failed stage first, else the furthest stage that matches.
      const int sel = std::isnan(up.value) ? FirstSelector(batch, up.event) : static_cast<int>(up.value);
      if (sel < 0) continue;
      uint8_t failed = kNone, stage = kNone;
      if (static_cast<size_t>(sel) < failed_.size()) {
        failed = static_cast<uint8_t>(sel);
      } else {
        stage = static_cast<uint8_t>(stages_.size() - 1 - (static_cast<size_t>(sel) - failed_.size()));
      }
      const FieldValue& kv = batch.field(up.event, static_cast<size_t>(key_field_));
      if (kv.kind == FieldKind::kMissing || kv.kind == FieldKind::kNull || kv.span.empty()) {
        no_key_->Inc();
        continue;
      }
      auto it = s.map.find(up.key);
      if (it == s.map.end()) {
        if (up.ts < late_before) {
          // Too late to tell: the order may have completed and been freed.
          if (env_.late_events) env_.late_events->Inc();
          continue;
        }
        if (s.map.size() >= cap_per_shard_) Evict(s);
        it = s.map.emplace(up.key, Flow{}).first;
        SetKey(s, up.key, &it->second, FieldText(batch, kv));
      }
      Flow& f = it->second;
      if (f.status == kDone) continue;  // a duplicate or late event of a completed order
      if (failed != kNone) {
        if (f.status == kFailed) continue;  // the first failure says where it broke
        failed_total_->Inc();
        f.status = kFailed;
        f.failed = failed;
        f.last_seen = up.ts;
        samples->push_back({AlertGroup(up.key, f), up.event});
        continue;
      }
      if (f.status == kFailed) {
        if (up.ts < f.last_seen) continue;  // from before the failure
      } else if (f.stage != kNone && stage <= f.stage) {
        continue;  // an earlier stage arriving out of order, or a repeat
      }
      if (f.stage != kNone && (stage > f.stage || f.status == kFailed)) {
        stages_[stage].latency->Observe(static_cast<double>(std::max<int64_t>(0, up.ts - f.last_seen)) / 1000.0);
      }
      if (f.stage == kNone || stage > f.stage) f.stage = stage;
      f.last_seen = up.ts;
      f.failed = kNone;
      f.status = f.stage + 1u == stages_.size() ? kDone : kActive;
      if (f.status == kDone) completed_->Inc();
    }
  }

  void Evaluate(int64_t eval_ms, std::vector<GroupResult>* active) override {
    // New flows older than this are late: older than this evaluation and than
    // the newest stage event seen before it, minus the lateness. (Before any
    // event, an evaluation runs at the wall clock, which says nothing about a
    // replay of older events.)
    const int64_t seen = newest_seen_.load(std::memory_order_relaxed);
    late_before_.store(seen == INT64_MIN ? INT64_MIN : std::min(eval_ms, seen - lateness_ms_),
                       std::memory_order_relaxed);
    std::vector<int64_t> in_flight(stages_.size(), 0);
    struct Candidate {
      int64_t deadline;
      int64_t last_seen;
      uint64_t hash;
      Flow flow;  // copy (the key may be long: fetched below)
      std::string long_key;
    };
    std::vector<Candidate> cands;
    for (Shard& s : shards_) {
      std::lock_guard<std::mutex> lock(s.mu);
      for (auto it = s.map.begin(); it != s.map.end();) {
        Flow& f = it->second;
        bool erase = false;
        if (f.status == kDone) {
          erase = f.last_seen <= eval_ms;
        } else if (f.status == kFailed) {
          if (eval_ms > f.last_seen + retention_ms_) {
            erase = true;
          } else {
            cands.push_back({f.last_seen, f.last_seen, it->first, f, {}});
          }
        } else {
          const size_t next = f.stage == kNone ? 0 : f.stage + 1u;
          const int64_t deadline = f.last_seen + stages_[next].within_ms;
          if (f.stage != kNone) ++in_flight[f.stage];
          if (eval_ms > deadline) {
            if (f.status == kActive) {
              f.status = kMissed;
              stages_[next].missed->Inc();
            }
            if (eval_ms > deadline + retention_ms_) {
              lost_->Inc();
              erase = true;
            } else {
              cands.push_back({deadline, f.last_seen, it->first, f, {}});
            }
          }
        }
        if (erase) {
          if (f.key_len == kLongKey) s.long_keys.erase(it->first);
          s.map.erase(it++);
          continue;
        }
        if (!cands.empty() && cands.back().hash == it->first && f.key_len == kLongKey) {
          cands.back().long_key = s.long_keys[it->first];
        }
        ++it;
      }
    }
    for (size_t j = 0; j < stages_.size(); ++j) stages_[j].in_flight->Set(in_flight[j]);
    overdue_->Set(static_cast<int64_t>(cands.size()));
    if (cands.size() > max_alerts_) {
      // The earliest deadlines first: the same orders stay alerted from one evaluation to the next.
      std::nth_element(cands.begin(), cands.begin() + static_cast<ptrdiff_t>(max_alerts_), cands.end(),
                       [](const Candidate& a, const Candidate& b) { return a.deadline < b.deadline; });
      cands.resize(max_alerts_);
    }
    for (const Candidate& c : cands) {
      const Flow& f = c.flow;
      const bool failed = f.status == kFailed;
      const size_t next = f.stage == kNone ? 0 : std::min<size_t>(f.stage + 1u, stages_.size() - 1);
      GroupResult r;
      r.group = AlertGroup(c.hash, f);
      std::string key = f.key_len == kLongKey ? c.long_key : std::string(f.key, f.key_len);
      std::string stage = failed ? failed_[f.failed].name : stages_[f.stage].name;
      r.labels = {{key_label_, std::move(key)},
                  {"stage", std::move(stage)},
                  {"expected_stage", stages_[next].name},
                  {"reason", failed ? "failed" : "missed_deadline"}};
      r.value = static_cast<double>(eval_ms - c.last_seen) / 1000.0;
      r.threshold = static_cast<double>(stages_[next].within_ms) / 1000.0;
      r.evidence = {{"last_stage_at", FormatRfc3339Ms(c.last_seen)},
                    {"since_last_stage", StrCat(FormatValue(r.value), "s")}};
      if (!failed) {
        r.evidence.emplace_back("within", StrCat(FormatValue(r.threshold), "s"));
        r.evidence.emplace_back("overdue_by", StrCat(FormatValue(static_cast<double>(eval_ms - c.deadline) / 1000.0), "s"));
      }
      active->push_back(std::move(r));
    }
  }

  size_t groups() const override {
    size_t n = 0;
    for (Shard& s : shards_) {
      std::lock_guard<std::mutex> l(s.mu);
      n += s.map.size();
    }
    return n;
  }
  size_t state_bytes() const override {
    size_t n = 0;
    for (Shard& s : shards_) {
      std::lock_guard<std::mutex> l(s.mu);
      n += s.map.capacity() * (sizeof(std::pair<const uint64_t, Flow>) + 1);
      n += s.long_keys.capacity() * (sizeof(std::pair<const uint64_t, std::string>) + 1);
      for (const auto& [h, k] : s.long_keys) n += k.capacity() + 1;
    }
    return n;
  }

  // The state blob (issue 6; also the format of the flow-<rule>.bin files of
  // earlier versions, still read once): magic, stage names, one record per
  // flow, an end marker with the count.
  void SaveState(StateWriter& w) override {
    auto put_str = [&w](std::string_view v) {
      uint16_t n = static_cast<uint16_t>(std::min<size_t>(v.size(), 65535));
      w.Raw(&n, 2);
      w.Raw(v.data(), n);
    };
    w.U64(kMagic);
    w.U32(static_cast<uint32_t>(stages_.size()));
    for (const Stage& s : stages_) put_str(s.name);
    w.U32(static_cast<uint32_t>(failed_.size()));
    for (const Stage& s : failed_) put_str(s.name);
    uint64_t count = 0;
    for (Shard& s : shards_) {
      std::lock_guard<std::mutex> l(s.mu);
      for (const auto& [h, fl] : s.map) {
        w.U64(h);
        w.I64(fl.last_seen);
        w.U8(fl.stage);
        w.U8(fl.failed);
        w.U8(fl.status);
        put_str(fl.key_len == kLongKey ? std::string_view(s.long_keys[h]) : std::string_view(fl.key, fl.key_len));
        ++count;
      }
    }
    w.U64(kEndMagic);
    w.U64(count);
  }
  bool state_survives_edits() const override { return true; }

  bool LoadState(StateReader& r) override {
    auto get_str = [&r](std::string* v) {
      uint16_t n;
      std::string_view b;
      if (!r.Take(2, &b)) return false;
      std::memcpy(&n, b.data(), 2);
      if (!r.Take(n, &b)) return false;
      v->assign(b);
      return true;
    };
    uint64_t magic;
    if (!r.U64(&magic) || magic != kMagic) return false;
    // Stages are mapped by name: a rule edited since the save keeps the flows
    // at the stages it still has.
    auto read_map = [&](const std::vector<Stage>& now, std::vector<uint8_t>* map) {
      uint32_t n;
      if (!r.U32(&n) || n > 255) return false;
      for (uint32_t i = 0; i < n; ++i) {
        std::string name;
        if (!get_str(&name)) return false;
        uint8_t to = kNone;
        for (size_t j = 0; j < now.size(); ++j) {
          if (now[j].name == name) to = static_cast<uint8_t>(j);
        }
        map->push_back(to);
      }
      return true;
    };
    std::vector<uint8_t> stage_map, failed_map;
    if (!read_map(stages_, &stage_map) || !read_map(failed_, &failed_map)) return false;
    // Records go to a scratch list first: a truncated blob loads nothing.
    struct Rec {
      uint64_t h;
      Flow fl;
      std::string key;
    };
    std::vector<Rec> recs;
    while (r.left() > 16) {
      Rec rec;
      if (!r.U64(&rec.h) || !r.I64(&rec.fl.last_seen) || !r.U8(&rec.fl.stage) || !r.U8(&rec.fl.failed) ||
          !r.U8(&rec.fl.status) || !get_str(&rec.key)) {
        return false;
      }
      Flow& fl = rec.fl;
      if (fl.stage != kNone) fl.stage = fl.stage < stage_map.size() ? stage_map[fl.stage] : kNone;
      if (fl.failed != kNone) fl.failed = fl.failed < failed_map.size() ? failed_map[fl.failed] : kNone;
      if (fl.status > kDone) continue;
      if (fl.status == kFailed && fl.failed == kNone) continue;  // its failed stage was removed
      if (fl.status != kFailed && fl.stage == kNone) continue;   // its stage was removed
      if (fl.status != kDone && fl.status != kFailed && fl.stage + 1u >= stages_.size()) continue;
      recs.push_back(std::move(rec));
    }
    uint64_t end, count;
    if (!r.U64(&end) || end != kEndMagic || !r.U64(&count)) return false;
    for (Rec& rec : recs) {
      Shard& s = shards_[ShardOf(rec.h)];
      std::lock_guard<std::mutex> l(s.mu);
      if (s.map.contains(rec.h)) continue;
      if (s.map.size() >= cap_per_shard_) Evict(s);
      Flow& fl = s.map.emplace(rec.h, rec.fl).first->second;
      SetKey(s, rec.h, &fl, rec.key);
    }
    return true;
  }

 private:
  struct Shard {
    std::mutex mu;
    absl::flat_hash_map<uint64_t, Flow> map;
    absl::flat_hash_map<uint64_t, std::string> long_keys;  // keys longer than kInlineKey
  };

  // The index of the first selector that holds for `event`, -1 if none:
  // what the engine hands in Update::value, for an engine that does not
  // evaluate them (RuleEngineOptions::engine_selectors off).
  int FirstSelector(const Batch& batch, uint32_t event) const {
    for (size_t k = 0; k < selectors_.size(); ++k) {
      if (selectors_[k]->Matches(batch, event)) return static_cast<int>(k);
    }
    return -1;
  }

  static void SetKey(Shard& s, uint64_t h, Flow* f, const std::string& key) {
    if (key.size() <= kInlineKey) {
      f->key_len = static_cast<uint8_t>(key.size());
      std::memcpy(f->key, key.data(), key.size());
    } else {
      f->key_len = kLongKey;
      s.long_keys[h] = key;
    }
  }

  // Evicts the least recently moved of a few probed flows (an approximate
  // LRU, as GroupTable). Its outcome is unknown, not lost: sluice stopped
  // watching it. A completed flow, which costs nothing to forget, goes
  // first; among equals, the lowest hash: a shard of at most the 8 probed
  // then loses the same flow whatever its table's order (absl salts it with
  // the table's address), as at the least max_flows (16: 4 per shard since
  // kShards is 4, FlowSelectorsTest's two engines).
  void Evict(Shard& s) {
    auto rank = [](const auto& e) { return std::tuple(e.second.status != kDone, e.second.last_seen, e.first); };
    auto victim = s.map.begin();
    int probes = 0;
    for (auto p = s.map.begin(); p != s.map.end() && probes < 8; ++p, ++probes) {
      if (rank(*p) < rank(*victim)) victim = p;
    }
    if (victim->second.status != kDone) {
      unknown_->Inc();
      if (env_.evictions) env_.evictions->Inc();
    }
    if (victim->second.key_len == kLongKey) s.long_keys.erase(victim->first);
    s.map.erase(victim);
  }

  // The alert identity of a flow in its current state: a new stage or a
  // failure is a new alert.
  static uint64_t AlertGroup(uint64_t hash, const Flow& f) {
    uint64_t tag = f.status == kFailed ? (0x100u | f.failed) : f.stage;
    return Mix64(hash ^ (tag * 0x9e3779b97f4a7c15ull) ^ 0x666c6f77ull);
  }

  int key_field_;
  std::string key_label_;
  std::vector<Stage> stages_, failed_;
  int64_t retention_ms_;
  size_t cap_per_shard_;
  size_t max_alerts_;
  std::unique_ptr<Condition> implied_;
  std::atomic<int64_t> late_before_{INT64_MIN};
  std::atomic<int64_t> newest_seen_{INT64_MIN};
  mutable Shard shards_[kShards];
  MetricsRegistry own_metrics_;
  Counter *completed_, *failed_total_, *lost_, *unknown_, *no_key_;
  Gauge* overdue_;
};

// Reads `stages:` or `failed:`: a list of {name, match[, within]}.
std::vector<Stage> ReadStages(ConfigMap& cfg, const char* key, bool with_deadlines, const DetectorEnv& env,
                              std::vector<std::string>* names) {
  std::vector<Stage> out;
  size_t i = 0;
  for (ConfigMap& sc : cfg.MapList(key)) {
    Stage s;
    s.name = sc.RequiredString("name");
    if (!s.name.empty()) {
      if (std::find(names->begin(), names->end(), s.name) != names->end()) {
        sc.Error("name", StrCat("duplicate stage name \"", s.name, "\""));
      }
      names->push_back(s.name);
    }
    s.match_node = sc.Raw("match");
    if (!s.match_node.IsDefined() || s.match_node.IsNull()) {
      sc.Error("match", StrCat(key, "[", i, "]: required key is missing (a map of field: condition)"));
    } else {
      s.match = Condition::Compile(s.match_node, sc.file(), env.fields, sc.errors());
    }
    if (with_deadlines && i > 0) {
      s.within_ms = RequiredDurationMs(sc, "within");
    } else if (with_deadlines && sc.Has("within")) {
      sc.Error("within", "the first stage has no deadline (a flow starts there)");
    }
    sc.Finish();
    out.push_back(std::move(s));
    ++i;
  }
  return out;
}

// The equality tests every stage shares, as one cheap test per field: a
// field that every stage's `match:` compares with a value (or a list of
// values) becomes `field: [the union of those values]`. Most events are no
// stage of the flow (access logs, traces); they then fail on the first field
// instead of on each stage's condition in turn: bench/run_flow_cost.sh,
// flow-only vs no rules.
YAML::Node SharedEqualityTests(const std::vector<Stage>& stages, const std::vector<Stage>& failed) {
  struct Field {
    std::string name;
    std::vector<YAML::Node> values;
    bool in_every = true;
  };
  std::vector<Field> fields;
  bool first = true;
  auto add = [](Field* f, const YAML::Node& v) {
    for (const YAML::Node& have : f->values) {
      if (have.Scalar() == v.Scalar() && have.Tag() == v.Tag()) return;
    }
    f->values.push_back(v);
  };
  for (const std::vector<Stage>* list : {&stages, &failed}) {
    for (const Stage& st : *list) {
      if (!st.match_node.IsMap()) return YAML::Node(YAML::NodeType::Map);
      std::vector<std::string> seen;
      for (const auto& kv : st.match_node) {
        const std::string key = kv.first.Scalar();
        const YAML::Node& v = kv.second;
        const bool scalars = v.IsScalar() || (v.IsSequence() && std::all_of(v.begin(), v.end(), [](const YAML::Node& e) {
                                                return e.IsScalar();
                                              }));
        if (key == "any" || key == "all" || key == "not" || !scalars) continue;
        auto f = std::find_if(fields.begin(), fields.end(), [&](const Field& x) { return x.name == key; });
        if (f == fields.end()) {
          if (!first) continue;  // not in an earlier stage
          fields.push_back({key, {}, true});
          f = fields.end() - 1;
        }
        if (v.IsScalar()) {
          add(&*f, v);
        } else {
          for (const YAML::Node& e : v) add(&*f, e);
        }
        seen.push_back(key);
      }
      for (Field& f : fields) f.in_every &= std::find(seen.begin(), seen.end(), f.name) != seen.end();
      first = false;
    }
  }
  YAML::Node out(YAML::NodeType::Map);
  for (const Field& f : fields) {
    if (!f.in_every) continue;
    YAML::Node list(YAML::NodeType::Sequence);
    for (const YAML::Node& v : f.values) list.push_back(v);
    out[f.name] = list;
  }
  return out;
}

}  // namespace

std::unique_ptr<Detector> NewFlowDetector(ConfigMap& cfg, const RuleSpec* spec, const DetectorEnv& env) {
  const size_t before = cfg.errors()->list().size();
  std::string key = cfg.String("key");
  int key_field = -1;
  if (!cfg.Has("key") || key.empty()) {
    cfg.Error("key", "required parameter is missing (the field naming the object followed, e.g. order.id)");
  } else {
    key_field = env.fields->Register(key);
  }
  std::vector<std::string> names;
  if (!cfg.Has("stages")) cfg.Error("stages", "required parameter is missing (a list of {name, match, within})");
  std::vector<Stage> stages = ReadStages(cfg, "stages", true, env, &names);
  if (cfg.Has("stages") && stages.size() < 2) cfg.Error("stages", "a flow needs at least two stages");
  if (stages.size() > kMaxStages) cfg.Error("stages", StrCat("at most ", kMaxStages, " stages"));
  std::vector<Stage> failed = ReadStages(cfg, "failed", false, env, &names);
  if (failed.size() > kMaxStages) cfg.Error("failed", StrCat("at most ", kMaxStages, " failed stages"));
  int64_t retention_ms = cfg.DurationMs("retention", 3'600'000, 1000);
  size_t max_flows = static_cast<size_t>(cfg.Int("max_flows", 1'000'000, 16, 100'000'000));
  size_t max_alerts = static_cast<size_t>(cfg.Int("max_alerts", 1000, 1, 1'000'000));
  if (cfg.errors()->list().size() != before) return nullptr;
  // The implied `match:`: any stage or failed stage, after the equality tests they all share.
  YAML::Node any(YAML::NodeType::Sequence);
  for (const Stage& s : stages) any.push_back(s.match_node);
  for (const Stage& s : failed) any.push_back(s.match_node);
  YAML::Node root = SharedEqualityTests(stages, failed);
  root["any"] = any;
  auto implied = Condition::Compile(root, cfg.file(), env.fields, cfg.errors());
  return std::make_unique<FlowDetector>(spec, env, key_field, LabelName(key), std::move(stages), std::move(failed),
                                        retention_ms, max_flows, max_alerts, std::move(implied));
}

SLUICE_REGISTER_DETECTOR("flow", NewFlowDetector);
static const bool kFlowSelectsOwnEvents = DetectorRegistry::Get().MarkSelectsOwnEvents("flow");

}  // namespace sluice::detectors
