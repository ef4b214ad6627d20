#include "detectors/rule_engine.h"

#include <glob.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <type_traits>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "common/log.h"
#include "common/strings.h"
#include "common/timeutil.h"
#include "common/hash.h"
#include "detectors/common/hash_lanes.h"

namespace sluice::detectors {

// Raw events kept as alert evidence, per group, a few at a time. Detectors
// propose candidates (first event of a group's bucket, an outlier, a repeat);
// groups with an alert are pinned, the rest are forgotten after a while.
class RuleEngine::SampleStore {
 public:
  static constexpr size_t kPerGroup = 3;
  // Groups with samples per rule, split over the shards (64 per shard when
  // there were 16: the total kept whatever kShards is).
  static constexpr size_t kGroups = 1024;
  static constexpr size_t kGroupsPerShard = kGroups / kShards;

  // Keeps each group's last kPerGroup candidates, oldest first. Only a
  // group's last kPerGroup candidates of one call can remain, so the earlier
  // ones are skipped unread; the kept texts reuse their strings' buffers. A
  // duplicate storm proposes a candidate every few events (DuplicateShipping
  // on the repeating bench stream: ~0.5 per event, ~137 instructions per event
  // copying and freeing texts that the next candidate replaced).
  void Record(const Batch& batch, const std::vector<SampleCandidate>& cands, size_t max_bytes, int64_t now) {
    if (cands.size() <= kPerGroup) {
      for (const SampleCandidate& c : cands) Keep(batch, c, max_bytes, now);
      return;
    }
    thread_local std::vector<uint32_t> picked;
    thread_local absl::flat_hash_map<uint64_t, uint32_t> taken;  // group -> candidates picked
    picked.clear();
    taken.clear();
    for (size_t i = cands.size(); i-- > 0;) {
      uint32_t& t = taken[cands[i].group];
      if (t == kPerGroup) continue;
      ++t;
      picked.push_back(static_cast<uint32_t>(i));
    }
    for (size_t k = picked.size(); k-- > 0;) Keep(batch, cands[picked[k]], max_bytes, now);
  }

  std::vector<std::string> Get(uint64_t group) {
    Shard& s = shards_[ShardOf(group)];
    std::lock_guard<std::mutex> l(s.mu);
    auto it = s.map.find(group);
    std::vector<std::string> out;
    if (it == s.map.end()) return out;
    const Entry& e = it->second;
    out.reserve(e.count);
    for (size_t k = 0; k < e.count; ++k) out.push_back(e.text[(e.next + kPerGroup - e.count + k) % kPerGroup]);
    return out;
  }

  // Pins groups with an alert; drops the others not recorded since `older_than`.
  template <typename F>
  void Retain(int64_t older_than, const F& has_alert) {
    for (Shard& s : shards_) {
      std::lock_guard<std::mutex> l(s.mu);
      for (auto it = s.map.begin(); it != s.map.end();) {
        it->second.pinned = has_alert(it->first);
        if (!it->second.pinned && it->second.recorded < older_than) {
          s.map.erase(it++);
        } else {
          ++it;
        }
      }
    }
  }

 private:
  struct Entry {
    std::string text[kPerGroup];  // a ring: the next one written is text[next]
    uint8_t count = 0, next = 0;
    int64_t recorded = 0;  // wall clock (last Tick) when last recorded
    bool pinned = false;
  };
  void Keep(const Batch& batch, const SampleCandidate& c, size_t max_bytes, int64_t now) {
    Shard& s = shards_[ShardOf(c.group)];
    std::lock_guard<std::mutex> l(s.mu);
    auto it = s.map.find(c.group);
    if (it == s.map.end()) {
      if (s.map.size() >= kGroupsPerShard) {
        // Make room by dropping an unpinned group, if one is found quickly.
        int probes = 0;
        auto victim = s.map.end();
        for (auto p = s.map.begin(); p != s.map.end() && probes < 8; ++p, ++probes) {
          if (!p->second.pinned) {
            victim = p;
            break;
          }
        }
        if (victim == s.map.end()) return;
        s.map.erase(victim);
      }
      it = s.map.emplace(c.group, Entry{}).first;
    }
    Entry& e = it->second;
    e.recorded = now;
    const std::string_view raw = batch.Raw(batch.events()[c.event]);
    std::string& text = e.text[e.next];
    text.assign(raw.substr(0, max_bytes));
    if (raw.size() > max_bytes) text += "...";
    e.next = static_cast<uint8_t>((e.next + 1) % kPerGroup);
    if (e.count < kPerGroup) ++e.count;
  }
  struct Shard {
    std::mutex mu;
    absl::flat_hash_map<uint64_t, Entry> map;
  };
  Shard shards_[kShards];
};

namespace {
constexpr int64_t kMaxFutureMs = 5 * 60'000;  // event times this far past the wall clock are clamped

bool ValidLabelName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}


// Reads `labels:` / `annotations:` (a map of name → template).
void ReadTemplates(ConfigMap& rc, const char* key, bool check_names,
                   std::vector<std::pair<std::string, LabelTemplate>>* out) {
  YAML::Node n = rc.Raw(key);
  if (!n.IsDefined() || n.IsNull()) return;
  if (!n.IsMap()) {
    rc.Error(key, "expected a map of name: value");
    return;
  }
  for (const auto& kv : n) {
    const std::string name = kv.first.Scalar();
    if (check_names && !ValidLabelName(name)) {
      rc.ErrorAt(kv.first, StrCat(key, ".", name, ": invalid label name (letters, digits and _ only)"));
      continue;
    }
    if (check_names && (name == "alertname" || name == "severity")) {
      rc.ErrorAt(kv.first, StrCat(key, ".", name, ": set by the rule itself (use `name` or `severity`)"));
      continue;
    }
    if (!kv.second.IsScalar()) {
      rc.ErrorAt(kv.second, StrCat(key, ".", name, ": expected a string"));
      continue;
    }
    std::string err;
    auto t = LabelTemplate::Parse(kv.second.Scalar(), &err);
    if (!t) {
      rc.ErrorAt(kv.second, StrCat(key, ".", name, ": ", err));
      continue;
    }
    out->emplace_back(name, std::move(*t));
  }
}
}  // namespace

RuleEngineOptions ReadRuleEngineOptions(ConfigMap& cfg, const std::string& config_file,
                                        std::vector<std::string>* paths) {
  RuleEngineOptions o;
  std::filesystem::path dir = std::filesystem::path(config_file).parent_path();
  o.base_dir = dir.empty() ? "." : dir.string();
  if (!cfg.Has("paths")) cfg.Error("paths", "required key is missing (a list of rule file globs)");
  *paths = cfg.StringList("paths");
  o.evaluation_interval_ms = cfg.DurationMs("evaluation_interval", o.evaluation_interval_ms, 10);
  o.allowed_lateness_ms = cfg.DurationMs("allowed_lateness", o.allowed_lateness_ms, 0);
  o.max_groups_per_rule =
      static_cast<size_t>(cfg.Int("max_groups_per_rule", static_cast<int64_t>(o.max_groups_per_rule), 16, 100'000'000));
  o.sample_bytes = cfg.Bytes("sample_max_bytes", o.sample_bytes, 16);
  o.state_save_interval_ms = cfg.DurationMs("snapshot_interval", o.state_save_interval_ms, 100);
  cfg.Finish();
  return o;
}

RuleEngine::RuleEngine(RuleEngineOptions opts)
    : opts_(std::move(opts)), hash_lanes_(opts_.simd && opts_.hash_lanes && CpuHasHashLanes()) {}

RuleEngine::~RuleEngine() { StopTicking(); }

void RuleEngine::AddSink(std::unique_ptr<AlertSink> sink) {
  fanout_.Add(sink.get());
  owned_sinks_.emplace_back(std::move(sink));
}

void RuleEngine::AddSink(AlertSink* sink) { fanout_.Add(sink); }

RuleEngine::TakeOverSummary RuleEngine::TakeOver(RuleEngine& old) {
  TakeOverSummary sum;
  fanout_ = old.fanout_;
  owned_sinks_ = old.owned_sinks_;
  {
    std::lock_guard<std::mutex> ol(old.tick_mu_);
    std::lock_guard<std::mutex> nl(tick_mu_);
    last_wm_ = old.last_wm_;
    wm_base_ = old.wm_base_;
    wm_wall_ = old.wm_wall_;
    last_wall_.store(old.last_wall_.load());
    stream_now_.store(old.stream_now_.load());
  }
  MergeWatermark(old);
  std::vector<bool> taken(old.rules_.size(), false);
  for (Rule& r : rules_) {
    bool found = false;
    for (size_t i = 0; i < old.rules_.size(); ++i) {
      Rule& o = old.rules_[i];
      if (o.spec->name != r.spec->name) continue;
      found = true;
      if (o.spec->hash == r.spec->hash) {
        // Same definition: same field indexes (the registry only appends) and
        // the same metric series, so the old rule moves over as it is.
        r = o;
        taken[i] = true;
        ++sum.kept;
      } else {
        ++sum.changed;
      }
      break;
    }
    if (!found) ++sum.added;
  }
  IndexRules();  // the kept rules are the old engine's objects now
  std::lock_guard<std::mutex> al(old.alerts_mu_);
  const int64_t now = old.stream_now_.load();
  for (size_t i = 0; i < old.rules_.size(); ++i) {
    if (taken[i]) continue;
    Rule& o = old.rules_[i];
    sum.resolved_alerts += o.tracker->ResolveAll(now, &fanout_);
    bool renamed_away = true;
    for (const Rule& r : rules_) renamed_away &= r.spec->name != o.spec->name;
    if (renamed_away) {
      ++sum.removed;
      // Its series stay (the registry never forgets one) but read 0.
      for (Gauge* g : {o.groups, o.state_bytes, o.firing, o.pending}) {
        if (g) g->Set(0);
      }
    }
  }
  return sum;
}

void RuleEngine::MergeWatermark(const RuleEngine& old) {
  const int64_t wm = old.watermark_.load(std::memory_order_relaxed);
  int64_t cur = watermark_.load(std::memory_order_relaxed);
  while (wm > cur && !watermark_.compare_exchange_weak(cur, wm, std::memory_order_relaxed)) {
  }
}

absl::Status RuleEngine::AddDefaultSinks(const std::string& data_dir) {
  auto file = std::make_unique<FileAlertSink>(data_dir + "/alerts/alerts.ndjson");
  if (auto s = file->Open(); !s.ok()) return s;
  AddSink(std::make_unique<LogAlertSink>());
  AddSink(std::move(file));
  return absl::OkStatus();
}

absl::Status RuleEngine::Load(const std::vector<std::string>& paths, ComponentContext& ctx, ConfigErrors* errors) {
  size_t before = errors->list().size();
  metrics_ = std::make_unique<ComponentMetrics>(ctx.metrics, "detector", "rules");
  future_events_ = metrics_->Discarded("future_timestamp");
  short_batches_ = metrics_->Errors("fields_not_extracted");
  std::vector<std::string> files;
  for (const std::string& pattern : paths) {
    std::string full = !pattern.empty() && pattern[0] == '/' ? pattern : StrCat(opts_.base_dir, "/", pattern);
    glob_t g{};
    int rc = glob(full.c_str(), GLOB_NOSORT, nullptr, &g);
    if (rc == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) files.emplace_back(g.gl_pathv[i]);
    } else if (full.find_first_of("*?[") == std::string::npos) {
      errors->AddPlain(StrCat(full, ":1: cannot open rule file"));
    } else {
      SLUICE_LOG_WARN("rules", "no rule file matches ", full);
    }
    globfree(&g);
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  for (const std::string& f : files) LoadFile(f, ctx, errors);
  files_ = std::move(files);
  fields_needed_ = ctx.fields->size();
  IndexRules();
  if (errors->list().size() != before) return absl::InvalidArgumentError(errors->ToString());
  if (!ctx.check_only && !ctx.data_dir.empty()) InitState(ctx);
  return absl::OkStatus();
}

void RuleEngine::LoadFile(const std::string& path, ComponentContext& ctx, ConfigErrors* errors) {
  size_t before = errors->list().size();
  YAML::Node root = LoadYamlFile(path, errors);
  if (errors->list().size() != before) return;
  if (!root.IsDefined() || root.IsNull()) {
    errors->AddPlain(StrCat(path, ":1: rules: required key is missing (the file is empty)"));
    return;
  }
  ConfigMap top(root, path, errors);
  if (!top.Has("rules")) top.Error("rules", "required key is missing (a list of rules)");
  for (ConfigMap& rc : top.MapList("rules")) LoadRule(rc, ctx);
  top.Finish();
}

void RuleEngine::LoadRule(ConfigMap& rc, ComponentContext& ctx) {
  ConfigErrors* errors = rc.errors();
  size_t before = errors->list().size();
  auto spec = std::make_shared<RuleSpec>();
  spec->file = rc.file();
  spec->line = rc.line();
  spec->name = rc.RequiredString("name");
  for (const auto& [name, where] : rule_names_) {
    if (!spec->name.empty() && name == spec->name) {
      rc.Error("name", StrCat("duplicate rule name \"", name, "\" (first defined at ", where, ")"));
    }
  }
  if (!spec->name.empty()) rule_names_.emplace_back(spec->name, StrCat(spec->file, ":", spec->line));
  spec->type = rc.RequiredString("type");
  const DetectorFactory* factory = nullptr;
  if (!spec->type.empty()) {
    factory = DetectorRegistry::Get().Find(spec->type);
    if (!factory) {
      rc.Error("type", StrCat("unknown rule type \"", spec->type, "\" (known: ",
                              StrJoin(DetectorRegistry::Get().Names(), ", "), ")"));
    }
  }
  YAML::Node match = rc.Raw("match");
  const bool has_match = match.IsDefined() && !match.IsNull();
  if (has_match) {
    spec->match = Condition::Compile(match, rc.file(), ctx.fields, errors);
  } else if (!DetectorRegistry::Get().SelectsOwnEvents(spec->type)) {
    rc.Error("match", "required key is missing (a map of field: condition)");
  }
  spec->group_by = rc.StringList("group_by");
  for (const std::string& g : spec->group_by) {
    if (g.empty()) {
      rc.Error("group_by", "empty field path");
      continue;
    }
    spec->group_fields.push_back(ctx.fields->Register(g));
    spec->group_label_names.push_back(LabelName(g));
  }
  spec->for_ms = rc.DurationMs("for", 0);
  spec->severity = rc.String("severity", "warning");
  ReadTemplates(rc, "labels", true, &spec->labels);
  ReadTemplates(rc, "annotations", false, &spec->annotations);

  Rule r;
  if (!spec->name.empty()) {
    Labels l = {{"rule", spec->name}};
    r.matched = ctx.metrics->GetCounter("sluice_rule_events_matched_total", "Events that matched a rule.", l);
    r.evictions = ctx.metrics->GetCounter("sluice_rule_evictions_total",
                                          "Groups or fingerprints evicted because a rule reached its cap.", l);
    r.late = ctx.metrics->GetCounter("sluice_rule_late_events_total",
                                     "Matching events older than the rule's windows still hold.", l);
    r.groups = ctx.metrics->GetGauge("sluice_rule_groups", "Groups or fingerprints a rule tracks.", l);
    r.state_bytes = ctx.metrics->GetGauge("sluice_rule_state_bytes", "Approximate memory of a rule's state.", l);
    r.firing = ctx.metrics->GetGauge("sluice_rule_alerts_firing", "Firing alerts of a rule.", l);
    r.pending = ctx.metrics->GetGauge("sluice_rule_alerts_pending", "Pending alerts of a rule.", l);
  }
  if (factory) {
    DetectorEnv env;
    env.fields = ctx.fields;
    env.allowed_lateness_ms = opts_.allowed_lateness_ms;
    env.max_groups = opts_.max_groups_per_rule;
    env.evictions = r.evictions;
    env.late_events = r.late;
    env.metrics = ctx.metrics;
    r.detector = (*factory)(rc, spec.get(), env);
  }
  if (!has_match && r.detector) spec->match = r.detector->TakeImpliedMatch();
  // With an unknown type, its parameters would only add noise as unknown keys.
  if (factory || spec->type.empty()) rc.Finish();
  if (errors->list().size() != before || !r.detector || !spec->match) return;
  YAML::Emitter out;
  out << rc.node();
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(HashBytes(out.c_str(), 0x52554c45ull)));
  spec->hash = hash;
  r.tracker = std::make_shared<AlertTracker>(spec.get());
  r.samples = std::make_shared<SampleStore>();
  r.spec = std::move(spec);
  rules_.push_back(std::move(r));
}

Detector* RuleEngine::detector(std::string_view name) const {
  for (const Rule& r : rules_) {
    if (r.spec->name == name) return r.detector.get();
  }
  return nullptr;
}

namespace {
// Events are taken ConditionSet::kChunk at a time for every rule (not every
// event for one rule, then the next rule): a chunk of a batch stays in cache
// while 30 rules read it. detectors_bench BM_ThirtyRulesObserve.
constexpr uint32_t kChunk = ConditionSet::kChunk;
constexpr uint32_t kPrefetchAhead = 8;  // events
constexpr uint32_t kApplyEvents = kChunk;  // every 512 events, as when a chunk was 256
constexpr uint32_t kHashBlock = 32;  // events (Observe's hashing passes)
static_assert(kApplyEvents % kChunk == 0);
static_assert(kHashBlock <= 256);  // HashColumn's event indices: uint8_t

// A chunk's groups of one group_by list: each distinct group hash, in the
// order of its first event, with the mask of its (valid) events. At most
// kMax groups; a chunk with more is `overflow` (its rules take the per-match
// path).
struct ChunkGroups {
  static constexpr uint32_t kMax = 32;
  static constexpr uint32_t kSlots = 64;  // open addressing, by the hash's low bits
  // Up to this many groups in the list's last chunk, the next one is built
  // by comparing every hash with each group's (BuildByCompare). 16, not 12:
  // the 16 hosts of bench/rules/thirty-rules.yml took the table, whose
  // probe loop branches on collisions (AddChunkRuns 383k -> 361k
  // instructions, callgrind of detectors_bench BM_ThirtyRulesStream).
  static constexpr uint32_t kCompareGroups = 16;
  bool built = false, overflow = false;
  bool simd = true;  // RuleEngineOptions::simd
  uint32_t n = 0;
  uint64_t hash[kMax];
  ConditionSet::Mask mask[kMax];

  void Build(const uint64_t* group_hashes, const ConditionSet::Mask& valid) {
#if defined(__AVX2__)
    if (simd && n <= kCompareGroups) {
      BuildByCompare(group_hashes, valid);
      return;
    }
#endif
    uint8_t slot[kSlots] = {};  // index + 1 into hash/mask, 0: empty
    n = 0;
    overflow = false;
    built = true;
    for (size_t w = 0; w < ConditionSet::kWords; ++w) {
      for (uint64_t bits = valid.w[w]; bits; bits &= bits - 1) {
        const uint32_t b = static_cast<uint32_t>(__builtin_ctzll(bits));
        const uint64_t h = group_hashes[w * 64 + b];
        uint32_t s = static_cast<uint32_t>(h) & (kSlots - 1);
        while (slot[s] != 0 && hash[slot[s] - 1] != h) s = (s + 1) & (kSlots - 1);
        if (slot[s] == 0) {
          if (n == kMax) {
            overflow = true;
            return;
          }
          slot[s] = static_cast<uint8_t>(++n);
          hash[n - 1] = h;
          mask[n - 1] = ConditionSet::Mask{};
        }
        mask[slot[s] - 1].w[w] |= uint64_t{1} << b;
      }
    }
  }

#if defined(__AVX2__)
  // The same groups in the same order (of their first events): the first
  // event not yet in a group starts the next, whose mask is every event with
  // its hash, 4 compared at a time. For the lists of few groups (service.name,
  // agent.name, log.file.path: 4 in bench/rules/thirty-rules.yml) instead of
  // a table probe per event (~27 instructions per event and list in
  // detectors_bench BM_ThirtyRulesStream).
  void BuildByCompare(const uint64_t* group_hashes, const ConditionSet::Mask& valid) {
    n = 0;
    overflow = false;
    built = true;
    ConditionSet::Mask rest = valid;
    for (size_t w = 0; w < ConditionSet::kWords;) {
      if (rest.w[w] == 0) {
        ++w;
        continue;
      }
      if (n == kMax) {
        overflow = true;
        return;
      }
      const uint64_t h = group_hashes[w * 64 + static_cast<uint32_t>(__builtin_ctzll(rest.w[w]))];
      const __m256i hs = _mm256_set1_epi64x(static_cast<int64_t>(h));
      ConditionSet::Mask& m = mask[n];
      for (size_t x = 0; x < w; ++x) m.w[x] = 0;  // every event there has its group already
      for (size_t x = w; x < ConditionSet::kWords; ++x) {
        uint64_t same = 0;
        const uint64_t* hw = group_hashes + x * 64;
        for (int b = 0; b < 64; b += 4) {
          const __m256i e = _mm256_cmpeq_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(hw + b)), hs);
          same |= static_cast<uint64_t>(static_cast<unsigned>(_mm256_movemask_pd(_mm256_castsi256_pd(e)))) << b;
        }
        m.w[x] = same & rest.w[x];
        rest.w[x] &= ~same;
      }
      hash[n++] = h;
    }
  }
#endif
};

constexpr uint64_t kFieldSeed = 0x6669656c64ull;  // FieldHash's seed, plus the value's kind
inline uint64_t FieldHash(const Batch& batch, const FieldValue& v) {
  return HashBytes(batch.View(v.span), kFieldSeed + static_cast<uint64_t>(v.kind));
}
constexpr uint64_t kKeyTweak = 0x66696e6765727072ull;  // a key's last Mix64 (PushMatches)
inline uint64_t Combine(uint64_t h, uint64_t field_hash) { return Mix64(h ^ field_hash) + 0x9e3779b97f4a7c15ull; }

// A field's hashes by value, for the group fields that repeat a few values
// again and again (service.name, host.name, agent.name, log.file.path in
// bench/rules/thirty-rules.yml): a hit costs a few loads and compares instead
// of HashBytes' multiply chain per 8 bytes and the Combine of a one-field
// group (detectors_bench BM_ThirtyRulesStream). Exact: the key is the kind,
// the length and every byte of values up to 32 bytes (longer ones are hashed
// each time), as 32 bytes with zeros after the value's; an entry's hashes
// depend on nothing else, so entries stay valid whatever field or rule set
// looks them up. Two entries per set, the newer first: 16 values fill a set
// past two with a chance of ~4% (one entry per index, as before, gave two
// values one entry with ~87%, and each then missed every time the other had
// come in between). A field whose values seldom repeat (log.offset) skips the
// memo for a while (Skip).
class FieldHashMemo {
 public:
  struct Hashes {
    uint64_t field;  // FieldHash
    uint64_t group;  // Combine(kGroupSeed, field): the group of a one-field group_by
  };
  static constexpr uint32_t kMaxKey = 32;  // longer values are hashed every time
  // The hashes of `v` (of at most kMaxKey bytes: the caller computes the
  // longer ones), from the memo or computed (and remembered). `kWide`:
  // the key loaded, compared and folded 32 bytes at a time with AVX2 where
  // compiled in (RuleEngineOptions::simd; the same key, entry and result as
  // the portable code, ~25 instead of ~57 instructions per look-up:
  // BM_ThirtyRulesStream). `readable`: the arena's capacity (bytes up to it
  // may be loaded).
  template <bool kWide>
  Hashes Get(const Batch& batch, const FieldValue& v, size_t readable) {
    const size_t n = v.span.len;
    const std::string& arena = batch.arena();
    const char* p = arena.data() + v.span.off;
    const uint32_t tag = static_cast<uint32_t>(n) << 8 | static_cast<uint32_t>(v.kind);
#if defined(__AVX2__)
    if constexpr (kWide) {
      __m256i key;
      if (size_t{v.span.off} + 32 <= readable) {
        // Within the arena's allocation (the parser reserves padding after
        // the last event); the bytes past the value's are cleared.
        const __m256i iota = _mm256_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
                                              20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31);
        key = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)),
                               _mm256_cmpgt_epi8(_mm256_set1_epi8(static_cast<char>(n)), iota));
      } else {
        uint64_t k[4] = {0, 0, 0, 0};
        std::memcpy(k, p, n);
        key = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(k));
      }
      const __m128i f = _mm_xor_si128(_mm256_castsi256_si128(key), _mm256_extracti128_si256(key, 1));
      Entry* e = &entries_[2 * Set(static_cast<uint64_t>(_mm_cvtsi128_si64(f)),
                                   static_cast<uint64_t>(_mm_extract_epi64(f, 1)), tag)];
      for (int way = 0; way < 2; ++way) {
        const __m256i same =
            _mm256_cmpeq_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(e[way].key)), key);
        if (e[way].tag == tag && _mm256_movemask_epi8(same) == -1) return e[way].hashes;
      }
      alignas(32) uint64_t k[4];
      _mm256_store_si256(reinterpret_cast<__m256i*>(k), key);
      return Insert(e, k, tag, batch, v);
    }
#endif
    uint64_t k[4] = {0, 0, 0, 0};
    std::memcpy(k, p, n);
    Entry* e = &entries_[2 * Set(k[0] ^ k[2], k[1] ^ k[3], tag)];
    for (int way = 0; way < 2; ++way) {
      if (e[way].tag == tag && e[way].key[0] == k[0] && e[way].key[1] == k[1] && e[way].key[2] == k[2] &&
          e[way].key[3] == k[3]) {
        return e[way].hashes;
      }
    }
    return Insert(e, k, tag, batch, v);
  }
  static Hashes Compute(const Batch& batch, const FieldValue& v) {
    const uint64_t h = FieldHash(batch, v);
    return {h, Combine(kGroupSeed, h)};
  }
  // The caller counts the look-ups (values of up to 32 bytes) of a chunk and
  // adds them here: a count in the memo, in memory across the HashBytes
  // call of a miss, was a load and a store per look-up chained from one
  // look-up to the next.
  void Looked(uint32_t n) { lookups_ += n; }
  // After a chunk: whether the next one should go without the memo (more
  // than half of this one's look-ups missed: the memo costs without paying;
  // tried again after kSkipChunks chunks).
  bool Skip() {
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    if (lookups_ >= 32 && misses_ * 2 > lookups_) skip_ = kSkipChunks;
    lookups_ = misses_ = 0;
    return skip_ > 0;
  }

 private:
  static constexpr int kSetBits = 7;
  static constexpr uint32_t kSkipChunks = 16;
  // A line each (56 bytes unpadded: an entry's key then crossed a line
  // boundary in most sets, and the set's address took two multiplies).
  struct alignas(64) Entry {
    uint64_t key[4] = {0, 0, 0, 0};  // the value's bytes, then zeros
    uint32_t tag = ~uint32_t{0};     // length << 8 | kind; all ones: empty
    Hashes hashes{};
  };
  // The set of a key: its words 0 ^ 2 and 1 ^ 3 (the halves of the 32
  // bytes folded) and the tag, mixed: the top bits of a product, which
  // every bit of the factor reaches.
  static size_t Set(uint64_t a, uint64_t b, uint32_t tag) {
    const uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ull) ^ tag) * 0xc2b2ae3d27d4eb4full;
    return static_cast<size_t>(h >> (64 - kSetBits));
  }
  // A miss: the key becomes the set's first entry, the first its second.
  // Out of line: the look-up's loop keeps its registers.
  __attribute__((noinline)) Hashes Insert(Entry* e, const uint64_t* k, uint32_t tag, const Batch& batch, const FieldValue& v) {
    ++misses_;
    e[1] = e[0];
    e[0].tag = tag;
    for (int i = 0; i < 4; ++i) e[0].key[i] = k[i];
    e[0].hashes = Compute(batch, v);
    return e[0].hashes;
  }
  Entry entries_[size_t{2} << kSetBits];
  uint32_t lookups_ = 0, misses_ = 0, skip_ = 0;
};

// Every cache line of the event kPrefetchAhead after event i, while the
// first hashed field's pass over a chunk reads the chunk's events (Observe).
struct EventPrefetch {
  const Event* events;
  const char* arena;
  uint32_t n;                 // the batch's events
  uintptr_t prefetched = 0;   // the lines below this address are prefetched
  void At(uint32_t i) {
    if (i + kPrefetchAhead >= n) return;
    const Event& e = events[i + kPrefetchAhead];
    // The lines not prefetched yet: events lie one after the other in the
    // arena, so the line an event starts in was mostly its predecessor's
    // last, already prefetched (one prefetch per line, ~8.1 per event of
    // bench/run_beats.sh's 521 bytes, where every line of every event, two
    // per step, was ~10).
    const uintptr_t p = reinterpret_cast<uintptr_t>(arena + e.offset);
    const uintptr_t last = p + e.length;
    uintptr_t line = p & ~uintptr_t{63};
    if (line < prefetched && prefetched < last) line = prefetched;  // (events out of arena order: all their lines)
    for (; line < last; line += 64) __builtin_prefetch(reinterpret_cast<const char*>(line), 0, 3);
    prefetched = line;
  }
};

// Whether two values are known to have the same kind and bytes, hence the
// same FieldHash and one-field group (neither reads anything else: FieldHash
// is the bytes and the kind): values of at most FieldHashMemo::kMaxKey bytes
// where the arena's allocation holds 32 bytes from each (`readable`: its
// capacity), loaded 32 bytes at a time (AVX2, `kWide`) or compared by
// memcmp. False for the others (the memo answers for them). No call in the
// AVX2 code: a call in HashColumn's loop (memcmp) left its pointers on the
// stack, reloaded for every value.
template <bool kWide>
inline bool KnownSame(const char* arena, size_t readable, const FieldValue& a, const FieldValue& b) {
  const size_t n = a.span.len;
  if (a.kind != b.kind || n != b.span.len || n > FieldHashMemo::kMaxKey) return false;
  if (size_t{a.span.off} + 32 > readable || size_t{b.span.off} + 32 > readable) return false;
#if defined(__AVX2__)
  if constexpr (kWide) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(arena + a.span.off));
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(arena + b.span.off));
    const uint64_t same = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, y)));
    const uint64_t want = (uint64_t{1} << n) - 1;  // the value's bytes only (n <= 32)
    return (same & want) == want;
  }
#endif
  return std::memcmp(arena + a.span.off, arena + b.span.off, n) == 0;
}

// A slot whose values are mostly another slot's (same bytes and kind) in the
// same event: Filebeat sets host.name and agent.name both to the hostname by
// default, and bench/run_beats.sh's events do too. The hashing pass of such a
// slot compares each value with the other slot's, in the same event, and
// takes that slot's hashes when they are the same (see SlotPairs).
struct SamePartner {
  const FieldValue* row;  // the other slot's values in the chunk (same stride)
  const uint64_t* fhs;    // its hashes in the chunk, computed before this slot's
  const uint64_t* fgs;
};

// One hashed field's hashes over a chunk's m <= kHashBlock events (row: the
// first event's value, stride: the batch's fields): fhs FieldHash, fgs the
// group of a one-field group_by (from the memo; without one, only fhs). Out
// of Observe: inlined there, a look-up ran ~62 instructions, a third of them
// spills and reloads of Observe's locals (the simd flag, the arena's
// capacity, the look-up count) where Observe's many live values left no
// register (callgrind of detectors_bench BM_ThirtyRulesStream, slots 1-3 of
// bench/rules/thirty-rules.yml). Flattened: GCC left HashBytes a call in
// the pass without the memo (log.offset: +46 instructions per event, where
// inlined in Observe it was not; run_beats_ir.sh). `kPaired` (with the memo
// only): first the values known to be the partner's take its hashes, in a
// loop of their own without calls, then the others go through the memo;
// returns how many took the partner's. (In the memo's loop the compare was
// 49 instructions per event, about a memo look-up's: run_beats_ir.sh.)
template <bool kWide, bool kPrefetch, bool kPaired>
__attribute__((noinline, flatten)) uint32_t HashColumn(const Batch& batch, const FieldValue* row, size_t stride,
                                                       uint32_t base, uint32_t m, FieldHashMemo* memo, uint64_t* fhs,
                                                       uint64_t* fgs, EventPrefetch* pf, SamePartner partner) {
  if (!memo) {
    for (uint32_t j = 0; j < m; ++j) {
      if constexpr (kPrefetch) pf->At(base + j);
      fhs[j] = FieldHash(batch, row[j * stride]);
    }
    return 0;
  }
  const size_t readable = batch.arena().capacity();
  const char* const arena = batch.arena().data();
  uint32_t looked = 0, same = 0;
  auto one = [&](uint32_t j) {
    if constexpr (kPrefetch) pf->At(base + j);
    const FieldValue& v = row[j * stride];
    FieldHashMemo::Hashes h;
    if (v.span.len > FieldHashMemo::kMaxKey) {
      h = FieldHashMemo::Compute(batch, v);
    } else {
      ++looked;
      h = memo->Get<kWide>(batch, v, readable);
    }
    fhs[j] = h.field;
    fgs[j] = h.group;
  };
  if constexpr (kPaired) {
    uint8_t rest[kHashBlock];  // the events left to the memo
    uint32_t left = 0;
    for (uint32_t j = 0; j < m; ++j) {
      if (KnownSame<kWide>(arena, readable, row[j * stride], partner.row[j * stride])) {
        fhs[j] = partner.fhs[j];
        fgs[j] = partner.fgs[j];
        ++same;
      } else {
        rest[left++] = static_cast<uint8_t>(j);
      }
    }
    for (uint32_t k = 0; k < left; ++k) one(rest[k]);
  } else {
    for (uint32_t j = 0; j < m; ++j) one(j);
  }
  memo->Looked(looked);
  return same;
}

// Which earlier slot, if any, each slot's hashing pass compares its values
// with (HashColumn's partner), decided from the chunks before: a pair costs
// a compare per value where the values differ, so only slots whose values
// were the same in most events are paired, and are unpaired when that stops.
// Exact whatever is decided: a value takes the partner's hashes only when its
// kind and bytes are the partner's (KnownSame).
class SlotPairs {
 public:
  void Resize(size_t slots) {
    if (state_.size() < slots) state_.resize(slots);
  }
  int Of(size_t s) const { return state_[s].partner; }
  // After a pass of slot s with its partner: `same` of its m values were the
  // partner's. Unpaired once fewer than half of kDecideEvents were.
  void Paired(size_t s, uint32_t same, uint32_t m) {
    State& st = state_[s];
    st.seen += m;
    st.same += same;
    if (st.seen < kDecideEvents) return;
    if (st.same * 2 < st.seen) {
      st.partner = -1;
      st.wait = kProbeChunks;
    }
    st.seen = st.same = 0;
  }
  // After a pass of slot s without a partner, every kProbeChunks chunks of at
  // least kProbeEvents events: the earlier slot (of those not `skip`ping the
  // memo: whose field and group hashes were both computed) whose values
  // hashed the same as s's in at least 3/4 of the chunk's events becomes its
  // partner. By the field hashes only: a false match (a collision) costs time,
  // never a wrong hash.
  void Probe(size_t s, const uint64_t* fh, const uint8_t* skip, uint32_t m) {
    State& st = state_[s];
    if (st.wait > 0) {
      --st.wait;
      return;
    }
    if (m < kProbeEvents) return;
    st.wait = kProbeChunks;
    const uint64_t* a = fh + s * kChunk;
    uint32_t best = 0;
    for (size_t t = 0; t < s; ++t) {
      if (skip[t]) continue;
      const uint64_t* b = fh + t * kChunk;
      uint32_t same = 0;
      for (uint32_t j = 0; j < m; ++j) same += a[j] == b[j];
      if (same * 4 >= m * 3 && same > best) {
        best = same;
        st.partner = static_cast<int>(t);
        st.seen = st.same = 0;
      }
    }
  }

 private:
  static constexpr uint32_t kProbeChunks = 8;
  static constexpr uint32_t kProbeEvents = 32;
  static constexpr uint32_t kDecideEvents = 2 * kChunk;
  struct State {
    int partner = -1;
    uint32_t wait = 0;  // chunks until the next probe
    uint32_t seen = 0, same = 0;  // values passed with the partner since the last decision; how many were its
  };
  std::vector<State> state_;
};

struct ObserveScratch {
  // [rule * kShards + shard]: updates go straight to their shard's list (no
  // sorting by shard afterwards); see kApplyEvents.
  std::vector<std::vector<Update>> per_rule_shard;
  std::vector<SampleCandidate> samples;
  std::vector<uint64_t> matched;  // [rule]: events matched in the batch so far
  // [rule * kShards + shard]: where the bucket of the list's last update ends,
  // for rules whose detector merges updates (Detector::merge()).
  std::vector<int64_t> merge_end;
  std::vector<uint64_t> field_hashes;  // [slot * kChunk + event in chunk]
  std::vector<uint64_t> field_groups;  // [slot * kChunk + event in chunk]: the group of the field alone
  std::vector<FieldHashMemo> memos;    // [slot]
  std::vector<uint8_t> skip_memo;      // [slot]: this chunk hashes the field without its memo
  SlotPairs pairs;                     // [slot]: the slot whose equal values' hashes it takes
  std::vector<uint32_t> same;          // [slot]: the chunk's values that took their partner's hashes
  std::vector<uint64_t> group_hashes;  // [group list * kChunk + event in chunk]
  int64_t times[ConditionSet::kChunk];  // [event in chunk]: its time (the wall clock if too far ahead)
  ConditionSet::Scratch conditions;
  std::vector<ChunkGroups> chunk_groups;  // [group list]: its groups in the chunk (built when a rule needs them)
  double values[ConditionSet::kChunk];     // [event in chunk]: a max rule's values (ChunkValues)
  double sizes[ConditionSet::kChunk];      // [event in chunk]: its size (Batch::DocLength), if RuleEngine::event_sizes_
  std::vector<int> paired;                 // [slot]: the partner whose hashes its pass compared with, -1: none
  std::vector<const uint64_t*> list_hashes;  // [group list]: its group hashes in the chunk
  std::vector<uint32_t> list_groups;       // [group list]: the list whose ChunkGroups it uses (itself or one with the same hashes)
  std::vector<const uint64_t*> key_columns;  // [key field]: its hashes in field_hashes (PushMatches)
  uint64_t keys[ConditionSet::kChunk];       // [event in chunk]: a keyed rule's keys (KeyChainLanes)
};

// A kField detector's values of a chunk's matches: the condition set's
// numeric column of the field if it has one, else each match's field parsed
// here, as the per-match path does (NaN: no number). (A kEventBytes
// detector's sizes AddChunkRuns reads itself.) Out of line, as AddChunkRuns: once per rule
// and chunk, and inlined they made Observe too large for the compiler to
// inline FieldHashMemo::Get (~20 instructions per event: BM_ThirtyRulesStream).
__attribute__((noinline)) const double* ChunkValues(const Batch& batch, uint32_t base, const ConditionSet::Mask& matched,
                          const ConditionSet::Mask& valid, int value_field, const double* numbers,
                          ObserveScratch* scratch) {
  if (numbers) return numbers;
  double* out = scratch->values;
  for (size_t w = 0; w < ConditionSet::kWords; ++w) {
    for (uint64_t bits = matched.w[w] & valid.w[w]; bits; bits &= bits - 1) {
      const uint32_t j = static_cast<uint32_t>(w * 64) + static_cast<uint32_t>(__builtin_ctzll(bits));
      if (!FieldNumber(batch, batch.field(base + j, static_cast<size_t>(value_field)), &out[j])) out[j] = NAN;
    }
  }
  return out;
}

// Where a value-runs rule (Detector::value_runs()) keeps its runs' values
// until the apply that reads them: [rule][event of the apply window], a
// chunk's kChunk at the chunk's place, each group's together. Sized before
// Observe's first pointer into it (the size is the engine's, the same for
// every call of one Observe).
RunEntry* RunValueSlot(size_t rules, size_t rule, uint32_t base, uint32_t apply_events) {
  static thread_local std::vector<RunEntry> buf;
  if (buf.size() < rules * apply_events) buf.resize(rules * apply_events);
  return buf.data() + rule * apply_events + base % apply_events;
}

// A counting or max rule's matches in a chunk (events in time order, all in
// one bucket of merge_ms) as one update per group: the first match's event and
// time, the count, the last match's time, for kMax the largest value (matches
// without a number left out: the detector skips them); merged with the shard
// list's last update as the per-match path merges. With `run_values` (a
// value-runs rule: sum, avg, payload_size) a group's matches with a number go there in
// time order, and its update points at them (RunEntries; a lone one is a
// plain update); not merged. Returns false (nothing
// added) if the per-match path should take the chunk: too few matches to pay
// for the groups' masks, or too many groups in the chunk.
constexpr uint32_t kChunkRunMinMatches = 8;

// The matches of `hits` whose value is a number (not NaN): the value loops
// below then take every bit without testing its value.
inline ConditionSet::Mask NumberedHits(const ConditionSet::Mask& hits, const double* numbers, bool simd) {
  ConditionSet::Mask out;
  for (size_t w = 0; w < ConditionSet::kWords; ++w) {
    out.w[w] = hits.w[w];
    if (!hits.w[w]) continue;
#if defined(__AVX2__)
    if (simd) {
      uint64_t numbered = 0;
      for (int b = 0; b < 64; b += 4) {
        const __m256d v = _mm256_loadu_pd(numbers + w * 64 + static_cast<size_t>(b));
        numbered |= static_cast<uint64_t>(static_cast<unsigned>(_mm256_movemask_pd(_mm256_cmp_pd(v, v, _CMP_ORD_Q))))
                    << b;
      }
      out.w[w] &= numbered;
      continue;
    }
#endif
    for (uint64_t bits = hits.w[w]; bits; bits &= bits - 1) {
      const uint32_t b = static_cast<uint32_t>(__builtin_ctzll(bits));
      if (std::isnan(numbers[w * 64 + b])) out.w[w] &= ~(uint64_t{1} << b);
    }
  }
  return out;
}

// The largest of the values at the bits of `x` (none NaN, x != 0) as the
// per-match merge finds it: the first one, then each larger one in turn.
inline double RunMax(const double* values, uint64_t x, double value, bool first) {
  for (uint64_t bits = x; bits; bits &= bits - 1) {
    const double v = values[__builtin_ctzll(bits)];
    if (first || v > value) value = v;
    first = false;
  }
  return value;
}

#if defined(__AVX2__)
// The lanes of 4 bits, for a masked vector of 4 values.
struct LaneMasks {
  alignas(32) int64_t m[16][4];
  constexpr LaneMasks() : m{} {
    for (int i = 0; i < 16; ++i) {
      for (int k = 0; k < 4; ++k) m[i][k] = (i >> k & 1) ? -1 : 0;
    }
  }
};
inline constexpr LaneMasks kLaneMasks{};

// The largest value at the bits of `x` (none NaN), 4 at a time: any order,
// so exact for every maximum but a zero, whose sign depends on the order (the
// caller takes RunMax then). -inf for no bits.
inline __m256d VectorMax(const double* values, uint64_t x, __m256d acc) {
  const __m256d none = _mm256_set1_pd(-INFINITY);
  for (int b = 0; b < 64; b += 4) {
    const __m256d lanes = _mm256_castsi256_pd(
        _mm256_load_si256(reinterpret_cast<const __m256i*>(kLaneMasks.m[(x >> b) & 15])));
    const __m256d v = _mm256_blendv_pd(none, _mm256_loadu_pd(values + b), lanes);
    acc = _mm256_max_pd(v, acc);
  }
  return acc;
}
#endif

// `values()`: nullptr for a count, else the values of the matches (ChunkValues).
// `sizes`: for a value-runs rule of the events' sizes (payload_size without a
// field), the chunk's sizes (ObserveScratch::sizes, taken in Observe's times
// pass; values() is not called). Each entry read its event's record here,
// once per rule (UnusualEventSize and UnusualEventSizePerFile: twice per
// event), ~18% of AddChunkRuns' samples; the times pass reads the same
// record while it waits on it (~32% of Observe's samples on its first load,
// detectors_bench BM_ThirtyRulesWorker/1).
template <typename Values>
__attribute__((noinline)) bool AddChunkRuns(const ConditionSet::Mask& matched, const ConditionSet::Mask& valid, const int64_t* times,
                  const Values& values, uint32_t base, int64_t merge_ms, ChunkGroups* groups,
                  const uint64_t* group_hashes, std::vector<Update>* ups, int64_t* merge_end,
                  uint64_t* matched_count, RunEntry* run_values, const double* sizes) {
  ConditionSet::Mask hits;
  uint32_t total = 0;
  for (size_t w = 0; w < ConditionSet::kWords; ++w) {
    hits.w[w] = matched.w[w] & valid.w[w];
    total += static_cast<uint32_t>(__builtin_popcountll(hits.w[w]));
  }
  if (total < kChunkRunMinMatches) return false;
  if (groups) {
    if (!groups->built) groups->Build(group_hashes, valid);
    if (groups->overflow) return false;
  }
  *matched_count += total;
  const double* numbers = sizes ? sizes : values();
  const bool simd = groups && groups->simd;
  // The matches without a number are left out (the detectors skip them):
  // from here on every bit of `hits` has a value. (Every event has a size.)
  if (numbers && !sizes) hits = NumberedHits(hits, numbers, simd);
#if defined(__AVX2__)
  // A max rule's groups of many matches (SlowRequests, HugeLogFile: 4
  // groups) take their maximum 4 values at a time; groups of a few matches
  // (16 hosts) value by value.
  const bool vector_max = simd && !run_values && numbers && groups->n <= 6;
#endif
  auto add = [&](uint64_t group, const ConditionSet::Mask& mask) {
    uint32_t first = kChunk, last = 0, count = 0;
    double value = 1;
    if (run_values) {
      RunEntry* out = run_values;
      for (size_t w = 0; w < ConditionSet::kWords; ++w) {
        for (uint64_t bits = hits.w[w] & mask.w[w]; bits; bits &= bits - 1) {
          const uint32_t j = static_cast<uint32_t>(w * 64) + static_cast<uint32_t>(__builtin_ctzll(bits));
          *out++ = RunEntry{numbers[j], times[j], base + j};
        }
      }
      count = static_cast<uint32_t>(out - run_values);
      if (count == 0) return;
      out = run_values;
      run_values += count;
      const uint64_t key = count == 1 ? group : RunEntriesKey(out);
      ups[ShardOf(group)].push_back(Update{out[0].event, count, group, key, out[0].ts, out[0].value, out[count - 1].ts});
      return;
    }
    for (size_t w = 0; w < ConditionSet::kWords; ++w) {
      const uint64_t x = hits.w[w] & mask.w[w];
      if (!x) continue;
      count += static_cast<uint32_t>(__builtin_popcountll(x));
      if (first == kChunk) first = static_cast<uint32_t>(w * 64) + static_cast<uint32_t>(__builtin_ctzll(x));
      last = static_cast<uint32_t>(w * 64 + 63) - static_cast<uint32_t>(__builtin_clzll(x));
    }
    if (count == 0) return;
    if (numbers) {
      bool exact = false;
#if defined(__AVX2__)
      if (vector_max) {
        __m256d acc = _mm256_set1_pd(-INFINITY);
        for (size_t w = 0; w < ConditionSet::kWords; ++w) {
          if (hits.w[w] & mask.w[w]) acc = VectorMax(numbers + w * 64, hits.w[w] & mask.w[w], acc);
        }
        const __m128d half = _mm_max_pd(_mm256_castpd256_pd128(acc), _mm256_extractf128_pd(acc, 1));
        value = _mm_cvtsd_f64(_mm_max_sd(half, _mm_unpackhi_pd(half, half)));
        exact = value != 0;
      }
#endif
      if (!exact) {
        bool none = true;
        for (size_t w = 0; w < ConditionSet::kWords; ++w) {
          const uint64_t x = hits.w[w] & mask.w[w];
          if (!x) continue;
          value = RunMax(numbers + w * 64, x, value, none);
          none = false;
        }
      }
    }
    const int64_t ts = times[first], ts_last = times[last];
    const size_t shard = ShardOf(group);
    std::vector<Update>& list = ups[shard];
    if (!list.empty()) {
      Update& prev = list.back();
      if (prev.key == group && ts >= prev.ts_last && ts < merge_end[shard] && !std::isnan(prev.value)) {
        prev.count += count;
        prev.ts_last = ts_last;
        if (value > prev.value) prev.value = value;  // kMax; a count's values are all 1
        return;
      }
    }
    merge_end[shard] = (FloorDiv(ts, merge_ms) + 1) * merge_ms;
    list.push_back(Update{base + first, count, group, group, ts, value, ts_last});
  };
  if (!groups) {
    add(kGroupSeed, valid);
  } else {
    for (uint32_t k = 0; k < groups->n; ++k) add(groups->hash[k], groups->mask[k]);
  }
  return true;
}

// The per-match updates of a rule whose detector takes every match as it is
// (Merge::kNo: payload_size, duplicate, sum and avg thresholds; ~4.5 updates
// per event in bench/rules/thirty-rules.yml), by a loop made for the rule's
// group, key and value: the generic loop below tests each of them per match
// (~45 instructions per update with the Update's construction; detectors_bench
// BM_ThirtyRulesStream). The same updates in the same order.
enum class MatchValue { kOne, kNumbers, kEventBytes };
struct MatchLoop {
  const uint64_t* groups;         // the rule's group hashes in the chunk, nullptr: no group_by
  const uint64_t* const* keys;    // the columns of the key fields' hashes (Detector::key_fields())
  size_t key_count;
  const double* numbers;          // kNumbers: the value field's numbers in the chunk
  const Event* events;            // the batch's, for kEventBytes
  const int64_t* times;           // [event in chunk]
  uint32_t base;
  const uint64_t* key_column;     // kKeyed: the keys computed before (KeyChainLanes), nullptr: from `keys` here
};
template <bool kGrouped, bool kKeyed, MatchValue kValue>
void PushMatches(const MatchLoop& l, const ConditionSet::Mask& hits, std::vector<Update>* ups) {
  for (size_t w = 0; w < ConditionSet::kWords; ++w) {
    for (uint64_t bits = hits.w[w]; bits; bits &= bits - 1) {
      const uint32_t j = static_cast<uint32_t>(w * 64) + static_cast<uint32_t>(__builtin_ctzll(bits));
      const uint32_t i = l.base + j;
      const uint64_t group = kGrouped ? l.groups[j] : kGroupSeed;
      uint64_t key = group;
      if constexpr (kKeyed) {
        if (l.key_column) {
          key = l.key_column[j];
        } else {
          for (size_t k = 0; k < l.key_count; ++k) key = Combine(key, l.keys[k][j]);
          key = Mix64(key ^ kKeyTweak);
        }
      }
      double value = 1;
      if constexpr (kValue == MatchValue::kNumbers) {
        value = l.numbers[j];  // NaN when the field holds no number
      } else if constexpr (kValue == MatchValue::kEventBytes) {
        const Event& e = l.events[i];
        value = static_cast<double>(e.length - (e.cut_end - e.cut_begin));  // Batch::DocLength
      }
      const int64_t ts = l.times[j];
      ups[ShardOf(key)].push_back(Update{i, 1, group, key, ts, value, ts});
    }
  }
}
// Not inlined: in Observe the loops pushed GCC past its inlining limit there
// (FieldHashMemo::Get and AddChunkRuns became calls). Flattened: GCC left
// the push_back a call in some builds (~23 instructions per event in
// BM_ThirtyRulesStream, whichever way unrelated code in this file went).
template <bool kGrouped, bool kKeyed>
__attribute__((noinline, flatten)) void PushMatchesOf(MatchValue v, const MatchLoop& l, const ConditionSet::Mask& hits, std::vector<Update>* ups) {
  switch (v) {
    case MatchValue::kOne:
      return PushMatches<kGrouped, kKeyed, MatchValue::kOne>(l, hits, ups);
    case MatchValue::kNumbers:
      return PushMatches<kGrouped, kKeyed, MatchValue::kNumbers>(l, hits, ups);
    case MatchValue::kEventBytes:
      return PushMatches<kGrouped, kKeyed, MatchValue::kEventBytes>(l, hits, ups);
  }
}

}  // namespace

void RuleEngine::IndexRules() {
  conditions_ = ConditionSet();
  conditions_.set_portable(!opts_.simd);
  for (const Rule& r : rules_) conditions_.Add(*r.spec->match);
  selector_first_.clear();
  for (const Rule& r : rules_) {
    selector_first_.push_back(conditions_.size());
    if (!opts_.engine_selectors) continue;
    for (const Condition* c : r.detector->selectors()) conditions_.Add(*c);
  }
  // A rule's `field:` values (max of log.offset, sum of a duration) read from
  // a numeric column, parsed over the chunk like the comparisons' fields,
  // rather than by FieldNumber per match where no leaf compares the field
  // (HugeLogFile in bench/rules/thirty-rules.yml: ~57 instructions per event).
  if (opts_.value_columns) {
    for (const Rule& r : rules_) {
      if (r.detector->value_source() == Detector::ValueSource::kField) conditions_.AddNumbers(r.detector->value_field());
    }
  }
  hashed_fields_.clear();
  slot_of_.clear();
  auto add = [this](int f) {
    if (f < 0) return;
    if (static_cast<size_t>(f) >= slot_of_.size()) slot_of_.resize(static_cast<size_t>(f) + 1, -1);
    if (slot_of_[static_cast<size_t>(f)] >= 0) return;
    slot_of_[static_cast<size_t>(f)] = static_cast<int>(hashed_fields_.size());
    hashed_fields_.push_back(f);
  };
  for (const Rule& r : rules_) {
    for (int f : r.spec->group_fields) add(f);
    for (int f : r.detector->key_fields()) add(f);
  }
  group_lists_.clear();
  plans_.clear();
  key_slots_.clear();
  for (const Rule& r : rules_) {
    const Detector& d = *r.detector;
    RulePlan p;
    std::vector<int> slots;
    for (int f : r.spec->group_fields) slots.push_back(slot_of_[static_cast<size_t>(f)]);
    if (!slots.empty()) {
      p.list = static_cast<int>(std::find(group_lists_.begin(), group_lists_.end(), slots) - group_lists_.begin());
      if (static_cast<size_t>(p.list) == group_lists_.size()) group_lists_.push_back(std::move(slots));
    }
    // Whether the rule's matches may be gathered per group and chunk
    // (Merge::kCount with value 1 or kMax of a field, key = group; see Observe).
    const bool count = d.merge() == Detector::Merge::kCount && d.value_source() == Detector::ValueSource::kOne;
    const bool maximum = d.merge() == Detector::Merge::kMax && d.value_source() == Detector::ValueSource::kField;
    const bool values = d.value_runs() && (d.value_source() == Detector::ValueSource::kField ||
                                           d.value_source() == Detector::ValueSource::kEventBytes);
    p.chunk_runs = opts_.chunk_runs && opts_.merge_updates && (count || maximum || values) && d.key_fields().empty() &&
                   (opts_.shared_group_hashes || p.list < 0);
    p.source = d.value_source();
    p.merge = opts_.merge_updates ? d.merge() : Detector::Merge::kNo;
    p.value_runs = d.value_runs();
    p.value_field = d.value_field();
    p.selectors = opts_.engine_selectors ? static_cast<uint32_t>(d.selectors().size()) : 0;
    p.key_first = static_cast<uint32_t>(key_slots_.size());
    p.key_count = static_cast<uint32_t>(d.key_fields().size());
    for (int f : d.key_fields()) key_slots_.push_back(slot_of_[static_cast<size_t>(f)]);
    p.merge_ms = d.merge_bucket_ms();
    plans_.push_back(p);
  }
  slot_list_.assign(hashed_fields_.size(), -1);
  for (size_t g = 0; g < group_lists_.size(); ++g) {
    if (group_lists_[g].size() == 1) slot_list_[static_cast<size_t>(group_lists_[g][0])] = static_cast<int>(g);
  }
  event_sizes_ = false;
  for (const RulePlan& p : plans_) {
    event_sizes_ |= p.chunk_runs && p.value_runs && p.source == Detector::ValueSource::kEventBytes;
  }
}

void RuleEngine::Observe(const Batch& batch) {
  if (rules_.empty()) return;
  if (batch.field_count() < fields_needed_ && !batch.events().empty()) {
    // Cannot happen through the pipeline (a worker rebuilds its parser before
    // it sees a newly loaded engine); counted rather than read out of bounds.
    short_batches_->Inc();
    return;
  }
  thread_local ObserveScratch scratch;
  const auto& events = batch.events();
  const uint32_t n = static_cast<uint32_t>(events.size());
  metrics_->received_events->Inc(n);
  const int64_t wall = last_wall_.load(std::memory_order_relaxed);
  const int64_t max_ts = wall > 0 ? wall + kMaxFutureMs : INT64_MAX;
  // The newest valid event's time and the valid events too far ahead (their
  // time taken as the wall clock's), gathered chunk by chunk.
  int64_t newest = INT64_MIN;
  EventPrefetch prefetch{events.data(), batch.arena().data(), n};
  uint64_t future = 0;

  auto& lists = scratch.per_rule_shard;
  if (lists.size() < rules_.size() * kShards) lists.resize(rules_.size() * kShards);
  for (size_t k = 0; k < rules_.size() * kShards; ++k) lists[k].clear();
  scratch.matched.assign(rules_.size(), 0);
  scratch.merge_end.resize(rules_.size() * kShards);
  const size_t slots = hashed_fields_.size();
  scratch.field_hashes.resize(slots * kChunk);
  scratch.field_groups.resize(slots * kChunk);
  if (scratch.memos.size() < slots) scratch.memos.resize(slots);
  scratch.skip_memo.resize(slots);
  scratch.pairs.Resize(slots);
  uint64_t* fh = scratch.field_hashes.data();
  uint64_t* fg = scratch.field_groups.data();
  const bool memo = opts_.hash_memo;
  const bool lanes = hash_lanes_;
  if (!memo) std::fill(scratch.skip_memo.begin(), scratch.skip_memo.end(), uint8_t{1});
  const bool shared_groups = opts_.shared_group_hashes;
  const size_t group_lists = shared_groups ? group_lists_.size() : 0;
  scratch.group_hashes.resize(group_lists * kChunk);
  scratch.chunk_groups.resize(group_lists);
  scratch.list_hashes.resize(group_lists);
  scratch.list_groups.resize(group_lists);
  uint64_t* gh = scratch.group_hashes.data();
  // The updates so far go to the detectors, shard by shard (each shard's lock
  // taken once per call). Done every kApplyEvents events rather than once per
  // batch: a batch's updates (~10 per event, 40 bytes each: ~1 MB at 2048
  // events) written and read back missed the caches (detectors_bench
  // BM_ThirtyRulesObserve).
  auto apply = [&] {
    // Each rule's detector object one rule ahead: its call's first loads
    // (the vtable pointer, then the detector's members) missed the caches
    // (~6% of Observe's samples on the call, bench/run_beats.sh under perf).
    __builtin_prefetch(rules_[0].detector.get());
    for (size_t ri = 0; ri < rules_.size(); ++ri) {
      const Rule& r = rules_[ri];
      if (ri + 1 < rules_.size()) __builtin_prefetch(rules_[ri + 1].detector.get());
      std::vector<Update>* ups = &lists[ri * kShards];
      scratch.samples.clear();
      r.detector->ApplyShards(ups, batch, &scratch.samples);
      for (size_t s = 0; s < kShards; ++s) ups[s].clear();
      if (!scratch.samples.empty()) r.samples->Record(batch, scratch.samples, opts_.sample_bytes, wall);
    }
  };
  for (uint32_t base = 0; base < n; base += kChunk) {
    const uint32_t m = std::min(kChunk, n - base);
    // Each field any rule groups or fingerprints by is hashed once per event,
    // a field at a time over the chunk (the memo, the row and the columns set
    // up once per field rather than once per event and field: ~30% of the
    // pass, detectors_bench BM_ThirtyRulesStream). The first field's pass is
    // the first reading of the chunk's bytes: the event kPrefetchAhead further
    // on is prefetched meanwhile. A batch (~1 MB at 2048 events) is out of the
    // core's caches by the time the parse is over, and waiting for each
    // event's lines here was two thirds of Observe (detectors_bench
    // BM_ThirtyRulesObserve, 1.88 -> 1.37 ms per 2048 events; prefetching a
    // whole chunk ahead into L2 did nothing).
    // The events' times, which are valid, whether the valid ones' times never
    // decrease, and the first and last: one pass over the chunk's records.
    int64_t* times = scratch.times;
    ConditionSet::Mask valid{};
    bool in_order = true;
    uint32_t valid_n = 0;
    int64_t first_ts = 0, last_ts = 0;
    double* const sizes = scratch.sizes;
    const bool event_sizes = event_sizes_;
    for (uint32_t j = 0; j < m; ++j) {
      const Event& e = events[base + j];
      const bool ahead = e.timestamp_ms > max_ts;
      const int64_t t = ahead ? wall : e.timestamp_ms;
      times[j] = t;
      if (event_sizes) sizes[j] = static_cast<double>(batch.DocLength(e));
      if (e.flags & kEventInvalid) continue;
      future += ahead;
      newest = std::max(newest, t);
      valid.w[j / 64] |= uint64_t{1} << (j % 64);
      if (valid_n++ == 0) {
        first_ts = t;
      } else if (t < last_ts) {
        in_order = false;
      }
      last_ts = t;
    }
    const size_t stride = batch.field_count();
    // kHashBlock events at a time, every slot's pass: the later slots' passes
    // read the events' lines while the first's brought them into L1 (a chunk's
    // 512 events, ~260 KB in bench/run_beats.sh, are more than L1 holds).
    scratch.same.assign(slots, 0);
    // The partner of each slot's pass this chunk (its memo and the
    // partner's on: the partner's hashes are this chunk's, field and group).
    scratch.paired.assign(slots, -1);
    for (size_t s = 1; s < slots; ++s) {
      const int t = scratch.pairs.Of(s);
      if (!scratch.skip_memo[s] && t >= 0 && !scratch.skip_memo[static_cast<size_t>(t)]) scratch.paired[s] = t;
    }
    for (uint32_t b0 = 0; b0 < m; b0 += kHashBlock) {
      const uint32_t bm = std::min(kHashBlock, m - b0);
      for (size_t s = 0; s < slots; ++s) {
        const FieldValue* row = &batch.field(base + b0, static_cast<size_t>(hashed_fields_[s]));
        FieldHashMemo* memo = scratch.skip_memo[s] ? nullptr : &scratch.memos[s];
        uint64_t* fhs = fh + s * kChunk + b0;
        uint64_t* fgs = fg + s * kChunk + b0;
        if (s == 0) {
          (opts_.simd ? HashColumn<true, true, false> : HashColumn<false, true, false>)(
              batch, row, stride, base + b0, bm, memo, fhs, fgs, &prefetch, SamePartner{});
          continue;
        }
        const int t = scratch.paired[s];
        if (t >= 0) {
          const SamePartner partner{&batch.field(base + b0, static_cast<size_t>(hashed_fields_[static_cast<size_t>(t)])),
                                    fh + static_cast<size_t>(t) * kChunk + b0, fg + static_cast<size_t>(t) * kChunk + b0};
          scratch.same[s] += (opts_.simd ? HashColumn<true, false, true> : HashColumn<false, false, true>)(
              batch, row, stride, base + b0, bm, memo, fhs, fgs, &prefetch, partner);
        } else {
          (opts_.simd ? HashColumn<true, false, false> : HashColumn<false, false, false>)(
              batch, row, stride, base + b0, bm, memo, fhs, fgs, &prefetch, SamePartner{});
        }
      }
    }
    for (size_t s = 1; s < slots; ++s) {
      if (scratch.skip_memo[s]) continue;
      if (scratch.paired[s] >= 0) {
        scratch.pairs.Paired(s, scratch.same[s], m);
      } else {
        scratch.pairs.Probe(s, fh, scratch.skip_memo.data(), m);
      }
    }
    if (slots == 0) {
      for (uint32_t j = 0; j < m; ++j) prefetch.At(base + j);
    }
    // The group of every rule with this group_by list (30 rules, 6 lists
    // in bench/rules/thirty-rules.yml), rather than per update; a list of
    // one field from its memo.
    for (size_t g = 0; g < group_lists; ++g) {
      const std::vector<int>& list = group_lists_[g];
      uint64_t* out = gh + g * kChunk;
      scratch.list_hashes[g] = out;
      scratch.list_groups[g] = static_cast<uint32_t>(g);
      const size_t s0 = static_cast<size_t>(list[0]);
      if (list.size() == 1 && !scratch.skip_memo[s0]) {
        scratch.list_hashes[g] = fg + s0 * kChunk;  // the memo's groups as they are
        // Every value took the partner slot's hashes (agent.name's from
        // host.name in bench/run_beats.sh): the partner's own list has the
        // same hashes over the chunk, hence the same groups in the same
        // order, built once (a 16-group list's BuildByCompare was ~29% of
        // AddChunkRuns' samples, two such lists built per chunk).
        const int t = scratch.paired[s0];
        if (t >= 0 && scratch.same[s0] == m) {
          const int tl = slot_list_[static_cast<size_t>(t)];
          if (tl >= 0) scratch.list_groups[g] = static_cast<uint32_t>(tl);
        }
      } else if (list.size() == 2) {
        const uint64_t* b = fh + static_cast<size_t>(list[1]) * kChunk;
        if (!scratch.skip_memo[s0]) {
          // The first field's group is Combine(kGroupSeed, its hash), from its
          // memo: one Mix64 less per event ([service.name, host.name]).
          const uint64_t* a = fg + s0 * kChunk;
          for (uint32_t j = 0; j < m; ++j) out[j] = Combine(a[j], b[j]);
        } else {
          const uint64_t* a = fh + s0 * kChunk;
          for (uint32_t j = 0; j < m; ++j) out[j] = Combine(Combine(kGroupSeed, a[j]), b[j]);
        }
      } else {
        for (uint32_t j = 0; j < m; ++j) {
          uint64_t h = kGroupSeed;
          for (int s : list) h = Combine(h, fh[static_cast<size_t>(s) * kChunk + j]);
          out[j] = h;
        }
      }
    }
    for (size_t s = 0; s < slots; ++s) scratch.skip_memo[s] = !memo || scratch.memos[s].Skip();
    conditions_.Eval(batch, base, m, &scratch.conditions);
    // Counting and max rules' matches per group of the chunk instead of per
    // match (RulePlan::chunk_runs): when the chunk's events are in time order, a group's
    // matches within one bucket are the run the per-match updates merge into
    // where nothing else comes between them. Another group's updates coming
    // between them do not change either group's state (only what the tables'
    // approximate LRUs evict when full, which already depends on each table's
    // iteration order).
    const bool chunk_runs = in_order && valid_n > 0 && first_ts > INT64_MIN / 2 && last_ts < INT64_MAX / 2;
    for (ChunkGroups& cg : scratch.chunk_groups) {
      cg.built = false;
      cg.simd = opts_.simd;
    }
    // The next chunk's event records into L2, a few lines per rule while the
    // rules' loop computes: the times pass is their first reading since the
    // parse, and waited on them (~18% of Observe's samples on and after its
    // first load, bench/run_beats.sh under perf).
    const char* next_record = reinterpret_cast<const char*>(events.data() + base + m);
    const char* const records_end = reinterpret_cast<const char*>(events.data() + std::min(n, base + m + kChunk));
    const size_t record_lines = (static_cast<size_t>(records_end - next_record) / 64 + rules_.size()) / rules_.size();
    for (size_t ri = 0; ri < rules_.size(); ++ri) {
      for (size_t k = 0; k < record_lines && next_record < records_end; ++k, next_record += 64) {
        __builtin_prefetch(next_record, 0, 2);
      }
      const RulePlan& p = plans_[ri];
      const ConditionSet::Mask& matched = conditions_.result(scratch.conditions, ri);
      ConditionSet::Mask hits;
      uint64_t any = 0;
      for (size_t w = 0; w < ConditionSet::kWords; ++w) {
        hits.w[w] = matched.w[w] & valid.w[w];
        any |= hits.w[w];
      }
      // No match in the chunk: no update, nothing counted, whichever path
      // (the rules of rare matches: 6 of bench/rules/thirty-rules.yml's 30
      // never match its events).
      if (!any) continue;
      std::vector<Update>* ups = &lists[ri * kShards];
      const double* numbers = p.source == Detector::ValueSource::kField
                                  ? conditions_.numbers(scratch.conditions, p.value_field)
                                  : nullptr;
      const bool select = p.source == Detector::ValueSource::kSelector;
      const size_t selectors = p.selectors;
      const Detector::Merge merge = p.merge;
      const int64_t merge_ms = p.merge_ms;
      int64_t* merge_end = &scratch.merge_end[ri * kShards];
      const int list = p.list;
      if (chunk_runs && p.chunk_runs && FloorDiv(first_ts, merge_ms) == FloorDiv(last_ts, merge_ms) &&
          AddChunkRuns(matched, valid, scratch.times,
                       [&]() -> const double* {
                         return merge == Detector::Merge::kMax || p.value_runs
                                    ? ChunkValues(batch, base, matched, valid, p.value_field, numbers, &scratch)
                                    : nullptr;
                       },
                       base, merge_ms,
                       list >= 0 ? &scratch.chunk_groups[scratch.list_groups[static_cast<size_t>(list)]] : nullptr,
                       list >= 0 ? scratch.list_hashes[static_cast<size_t>(list)] : nullptr, ups, merge_end,
                       &scratch.matched[ri],
                       p.value_runs ? RunValueSlot(rules_.size(), ri, base, kApplyEvents) : nullptr,
                       p.value_runs && p.source == Detector::ValueSource::kEventBytes ? scratch.sizes : nullptr)) {
        continue;
      }
      const uint64_t* groups = shared_groups && list >= 0 ? scratch.list_hashes[static_cast<size_t>(list)] : nullptr;
      const int* const key_slots = key_slots_.data() + p.key_first;
      const size_t key_count = p.key_count;
      if (opts_.match_loops && merge == Detector::Merge::kNo && !select && (groups || list < 0) &&
          (numbers || p.source == Detector::ValueSource::kOne || p.source == Detector::ValueSource::kEventBytes)) {
        scratch.key_columns.resize(key_count);
        for (size_t k = 0; k < key_count; ++k) scratch.key_columns[k] = fh + static_cast<size_t>(key_slots[k]) * kChunk;
        uint32_t hit_count = 0;
        for (size_t w = 0; w < ConditionSet::kWords; ++w) hit_count += static_cast<uint32_t>(__builtin_popcountll(hits.w[w]));
        scratch.matched[ri] += hit_count;
        // A keyed rule matching at least an eighth of the chunk: every
        // event's key 4 at a time (DuplicateShipping's at every event).
        const uint64_t* key_column = nullptr;
        if (lanes && key_count && hit_count * 8 >= m) {
          KeyChainLanes(groups, kGroupSeed, scratch.key_columns.data(), key_count, kKeyTweak, m, scratch.keys);
          key_column = scratch.keys;
        }
        const MatchLoop loop{groups, scratch.key_columns.data(), key_count, numbers, events.data(), times, base,
                             key_column};
        const MatchValue v = numbers ? MatchValue::kNumbers
                             : p.source == Detector::ValueSource::kEventBytes ? MatchValue::kEventBytes
                                                                              : MatchValue::kOne;
        if (groups) {
          key_count ? PushMatchesOf<true, true>(v, loop, hits, ups) : PushMatchesOf<true, false>(v, loop, hits, ups);
        } else {
          key_count ? PushMatchesOf<false, true>(v, loop, hits, ups) : PushMatchesOf<false, false>(v, loop, hits, ups);
        }
        continue;
      }
      // The rule's constants in locals: the stores of the updates below may
      // alias the engine's vectors, so the compiler would load them again for
      // every match.
      const Detector::ValueSource source = p.source;
      const size_t value_field = static_cast<size_t>(p.value_field);
      const int* const slot_of = slot_of_.data();
      const std::vector<int>& group_fields = rules_[ri].spec->group_fields;
      const Event* const evs = events.data();
      for (size_t w = 0; w < ConditionSet::kWords; ++w) {
        scratch.matched[ri] += static_cast<uint64_t>(__builtin_popcountll(hits.w[w]));
        for (uint64_t bits = hits.w[w]; bits; bits &= bits - 1) {
          const uint32_t j = static_cast<uint32_t>(w * 64) + static_cast<uint32_t>(__builtin_ctzll(bits));
          const uint32_t i = base + j;
          uint64_t group = kGroupSeed;
          if (groups) {
            group = groups[j];
          } else if (!shared_groups) {
            for (int f : group_fields) group = Combine(group, fh[static_cast<size_t>(slot_of[f]) * kChunk + j]);
          }
          uint64_t key = group;
          if (key_count) {
            for (size_t k = 0; k < key_count; ++k) key = Combine(key, fh[static_cast<size_t>(key_slots[k]) * kChunk + j]);
            key = Mix64(key ^ kKeyTweak);
          }
          double value = 1;
          if (numbers) {
            value = numbers[j];  // NaN when the field holds no number
          } else if (source == Detector::ValueSource::kField) {
            if (!FieldNumber(batch, batch.field(i, value_field), &value)) value = NAN;
          } else if (source == Detector::ValueSource::kEventBytes) {
            value = static_cast<double>(batch.DocLength(evs[i]));
          } else if (select) {
            // The first selector that holds, from the masks of this chunk
            // (flow: instead of testing up to 12 stage conditions per event in Apply).
            value = selectors ? -1 : NAN;
            for (size_t k = 0; k < selectors; ++k) {
              const ConditionSet::Mask& sm = conditions_.result(scratch.conditions, selector_first_[ri] + k);
              if ((sm.w[w] >> (j % 64)) & 1) {
                value = static_cast<double>(k);
                break;
              }
            }
          }
          const int64_t ts = times[j];
          const size_t shard = ShardOf(key);
          std::vector<Update>& list = ups[shard];
          if (merge != Detector::Merge::kNo) {
            // A run of one key in one bucket, in time order, becomes one
            // update (bench/RESULTS.md, issue 4: most of a rule's matches in
            // a shard's list are one group's).
            if (!list.empty()) {
              Update& last = list.back();
              if (last.key == key && ts >= last.ts_last && ts < merge_end[shard] && !std::isnan(value) &&
                  !std::isnan(last.value)) {
                ++last.count;
                last.ts_last = ts;
                if (merge == Detector::Merge::kMax && value > last.value) last.value = value;
                continue;
              }
            }
            merge_end[shard] = ts > INT64_MIN / 2 && ts < INT64_MAX / 2 ? (FloorDiv(ts, merge_ms) + 1) * merge_ms
                                                                        : INT64_MIN;
          }
          list.push_back(Update{i, 1, group, key, ts, value, ts});
        }
      }
    }
    const uint32_t done = base + m;
    if (done % kApplyEvents == 0 || done == n) apply();
  }

  // The matches counted over the whole batch, one atomic add per rule and
  // call rather than per apply (4 per 2048-event batch, where the atomic adds
  // were ~6% of Observe's own samples: observe-13's bench/run_rules_profile.sh).
  for (size_t ri = 0; ri < rules_.size(); ++ri) {
    if (scratch.matched[ri] && rules_[ri].matched) rules_[ri].matched->Inc(scratch.matched[ri]);
  }
  if (future) future_events_->Inc(future);
  if (newest != INT64_MIN) {
    int64_t cur = watermark_.load(std::memory_order_relaxed);
    while (newest > cur && !watermark_.compare_exchange_weak(cur, newest, std::memory_order_relaxed)) {
    }
  }
}

void RuleEngine::Tick(int64_t now_ms) {
  std::lock_guard<std::mutex> tl(tick_mu_);
  last_wall_.store(now_ms, std::memory_order_relaxed);
  if (ledger_ && !ledger_->ReadyToEvaluate(now_ms)) return;  // replaying after a restart
  const int64_t wm = watermark_.load(std::memory_order_relaxed);
  if (wm != INT64_MIN && wm != last_wm_) {
    // Never backwards: an event newer than the last one but older than the
    // stream time the wall clock has moved on to does not pull it back (that
    // reopened closed buckets and made firing alerts resolve and fire again).
    wm_base_ = last_wm_ == INT64_MIN ? wm : std::max(wm, wm_base_ + std::max<int64_t>(0, now_ms - wm_wall_));
    last_wm_ = wm;
    wm_wall_ = now_ms;
  }
  // Stream time: the newest event time, moved on by the wall clock while no
  // newer event arrives.
  const int64_t stream_now = last_wm_ == INT64_MIN ? now_ms : wm_base_ + std::max<int64_t>(0, now_ms - wm_wall_);
  stream_now_.store(stream_now, std::memory_order_relaxed);
  std::vector<GroupResult> active;
  for (Rule& r : rules_) {
    const int64_t eval = stream_now - r.detector->lateness_ms();
    active.clear();
    r.detector->Evaluate(eval, &active);
    {
      std::lock_guard<std::mutex> al(alerts_mu_);
      r.tracker->Update(eval, active, &fanout_, [&r](uint64_t g) { return r.samples->Get(g); });
      r.firing->Set(static_cast<int64_t>(r.tracker->firing()));
      r.pending->Set(static_cast<int64_t>(r.tracker->pending()));
    }
    // Unpinned samples live long enough for their bucket to be evaluated.
    r.samples->Retain(now_ms - r.detector->lateness_ms() - 60'000,
                      [&r](uint64_t g) { return r.tracker->Has(g); });
    r.groups->Set(static_cast<int64_t>(r.detector->groups()));
    r.state_bytes->Set(static_cast<int64_t>(r.detector->state_bytes()));
  }
  AfterTick(now_ms);  // snapshots (rule_engine_state.cc)
}

void RuleEngine::StartTicking() {
  ticker_ = std::thread([this] {
    std::unique_lock<std::mutex> l(ticker_mu_);
    while (!ticker_stop_) {
      l.unlock();
      Tick(NowMs());
      l.lock();
      ticker_cv_.wait_for(l, std::chrono::milliseconds(opts_.evaluation_interval_ms), [this] { return ticker_stop_; });
    }
  });
}

void RuleEngine::StopTicking() {
  {
    std::lock_guard<std::mutex> l(ticker_mu_);
    ticker_stop_ = true;
  }
  ticker_cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  (void)SaveState();
}

std::vector<Alert> RuleEngine::ActiveAlerts() const {
  std::lock_guard<std::mutex> l(alerts_mu_);
  std::vector<Alert> out;
  for (const Rule& r : rules_) r.tracker->Snapshot(&out);
  return out;
}

}  // namespace sluice::detectors
