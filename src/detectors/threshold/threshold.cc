#include "detectors/threshold/threshold.h"

#include <cmath>
#include <limits>

#include "common/strings.h"
#include "detectors/common/group_state.h"
#include "detectors/common/label_template.h"

namespace sluice::detectors {
namespace {

// 10 slots: 8 buckets per window plus the allowed lateness for windows of
// 80 s and more at the default 10 s lateness (a 1m window gets 7 buckets).
// Was 12; with float sums this keeps an aggregate group at 128 bytes
// (tests/detectors/state_size_test.cc).
constexpr int kSlots = 10;

struct CountCell {
  uint32_t n = 0;
};
// The per-bucket value is a float (24-bit mantissa): exact for integers up to
// 16.7 million per bucket, otherwise within ~1e-7 relative per addition; the
// window total is summed in double.
struct AggCell {
  float v = 0;
  uint32_t n = 0;
};

template <typename Cell>
struct ThresholdGroup {
  BucketRing<Cell, kSlots> ring;
  int64_t first_seen = 0;
  int64_t last_seen = 0;
  CompactString labels;  // group label values, \0-separated
};

// Key + state per tracked group (tests/detectors/state_size_test.cc): was 256
// (aggregate) and 144 (count) bytes with double cells, 12 slots, std::string.
static_assert(sizeof(std::pair<uint64_t, ThresholdGroup<AggCell>>) <= 128);
static_assert(sizeof(std::pair<uint64_t, ThresholdGroup<CountCell>>) <= 88);

template <typename Cell>
class ThresholdDetector : public Detector {
 public:
  using Group = ThresholdGroup<Cell>;

  ThresholdDetector(const RuleSpec* spec, const DetectorEnv& env, ThresholdParams p)
      : Detector(spec, env), p_(p), table_(env.max_groups) {
    layout_ = MakeLayout(p_.window_ms, env.allowed_lateness_ms, kSlots);
    lateness_ms_ = layout_.lateness_ms;
    if (p_.field >= 0) {
      value_source_ = ValueSource::kField;
      value_field_ = p_.field;
    }
    // Counts and maxima of a bucket come out the same for a run of updates
    // merged by the engine; float sums would round differently.
    if (p_.aggregate == Aggregate::kCount || p_.aggregate == Aggregate::kMax) {
      merge_ = p_.aggregate == Aggregate::kMax ? Merge::kMax : Merge::kCount;
      merge_bucket_ms_ = layout_.bucket_ms;
    }
  }

  void Apply(size_t shard, const Update* u, size_t n, const Batch& batch,
             std::vector<SampleCandidate>* samples) override {
    auto& s = table_.shard(shard);
    std::lock_guard<std::mutex> lock(s.mu);
    typename GroupTable<Group>::Cursor cursor;
    BucketOfTime bucket_of(layout_.bucket_ms);
    for (size_t i = 0; i < n; ++i) {
      const Update& up = u[i];
      if constexpr (!std::is_same_v<Cell, CountCell>) {
        if (std::isnan(up.value)) continue;  // no numeric value in the field
      }
      bool created;
      Group& g = table_.Get(s, up.key, &created, env_.evictions, &cursor);
      if (created) {
        g.first_seen = up.ts;
        g.labels = GroupBlob(batch, up.event);
      }
      // A merged run (Update::count > 1) lies in one bucket, ts <= ts_last.
      if (up.ts_last > g.last_seen) g.last_seen = up.ts_last;
      if (up.ts < g.first_seen) g.first_seen = up.ts;
      Cell* c = g.ring.At(bucket_of(up.ts));
      if (!c) {
        env_.late_events->Inc(up.count);
        continue;
      }
      // The first event of each bucket of a group is a sample candidate.
      if (c->n == 0) samples->push_back({up.group, up.event});
      if constexpr (std::is_same_v<Cell, CountCell>) {
        c->n += up.count;
      } else {
        // kMax: the float of a run's maximum is what the run's updates one by
        // one leave (rounding is monotonic). Sums are never merged.
        if (c->n == 0 || p_.aggregate != Aggregate::kMax) {
          c->v = static_cast<float>((p_.aggregate == Aggregate::kMax || c->n == 0) ? up.value : c->v + up.value);
        } else if (up.value > c->v) {
          c->v = static_cast<float>(up.value);
        }
        c->n += up.count;
      }
    }
  }

  void Evaluate(int64_t eval_ms, std::vector<GroupResult>* active) override {
    const int64_t e = FloorDiv(eval_ms, layout_.bucket_ms);
    const int64_t window_start = (e - layout_.k) * layout_.bucket_ms;
    if (spec_->group_fields.empty() && !p_.above && !seeded_) {
      // The rule's only group exists from the start, so `below` notices a
      // stream that never sends anything.
      seeded_ = true;
      auto& s = table_.shard(ShardOf(kGroupSeed));
      std::lock_guard<std::mutex> lock(s.mu);
      bool created;
      Group& g = table_.Get(s, kGroupSeed, &created, env_.evictions);
      if (created) g.first_seen = g.last_seen = eval_ms;
    }
    for (size_t si = 0; si < kShards; ++si) {
      auto& s = table_.shard(si);
      std::lock_guard<std::mutex> lock(s.mu);
      for (auto it = s.map.begin(); it != s.map.end();) {
        Group& g = it->second;
        double value = 0;
        uint64_t count = 0;
        bool any_value = false;
        for (int64_t b = e - layout_.k; b < e; ++b) {
          const Cell* c = g.ring.Get(b);
          if (!c || c->n == 0) continue;
          count += c->n;
          if constexpr (std::is_same_v<Cell, CountCell>) {
            value += c->n;
          } else if (p_.aggregate == Aggregate::kMax) {
            value = any_value ? std::max(value, static_cast<double>(c->v)) : c->v;
          } else {
            value += c->v;
          }
          any_value = true;
        }
        if constexpr (!std::is_same_v<Cell, CountCell>) {
          if (p_.aggregate == Aggregate::kAvg && count > 0) value /= static_cast<double>(count);
        }
        bool holds;
        if (p_.above) {
          holds = any_value && value > p_.limit;
          // An `above` group with nothing left in its window is forgotten.
          if (!any_value && g.last_seen < window_start - lateness_ms_) {
            s.map.erase(it++);
            continue;
          }
        } else {
          holds = value < p_.limit && g.first_seen <= window_start;
        }
        if (holds) {
          GroupResult r;
          r.group = it->first;
          r.labels = GroupLabels(g.labels);
          r.value = value;
          r.threshold = p_.limit;
          r.evidence = {{"window", FormatValue(static_cast<double>(p_.window_ms) / 1000) + "s"},
                        {"events_in_window", StrCat(count)}};
          active->push_back(std::move(r));
        }
        ++it;
      }
    }
  }

  size_t groups() const override { return table_.size(); }
  size_t state_bytes() const override { return table_.bytes(); }

  // Saved state (issue 6): the bucket width (the rings are only valid with
  // it), then every group.
  void SaveState(StateWriter& w) override {
    w.I64(layout_.bucket_ms);
    w.U8(seeded_ ? 1 : 0);
    SaveGroups(table_, w, [](StateWriter& out, const Group& g) {
      out.Pod(g.ring);
      out.I64(g.first_seen);
      out.I64(g.last_seen);
      SaveLabels(out, g.labels);
    });
  }
  bool LoadState(StateReader& r) override {
    int64_t bucket_ms;
    uint8_t seeded;
    if (!r.I64(&bucket_ms) || bucket_ms != layout_.bucket_ms || !r.U8(&seeded)) return false;
    if (!LoadGroups(table_, r, [](StateReader& in, Group* g) {
          return in.Pod(&g->ring) && in.I64(&g->first_seen) && in.I64(&g->last_seen) && LoadLabels(in, &g->labels);
        })) {
      return false;
    }
    seeded_ = seeded != 0;
    return true;
  }

 private:
  ThresholdParams p_;
  WindowLayout layout_;
  GroupTable<Group> table_;
  bool seeded_ = false;
};

}  // namespace

std::unique_ptr<Detector> NewThresholdDetector(ConfigMap& cfg, const RuleSpec* spec, const DetectorEnv& env) {
  ThresholdParams p;
  size_t errors_before = cfg.errors()->list().size();
  p.window_ms = RequiredDurationMs(cfg, "window");
  bool has_above = cfg.Has("above"), has_below = cfg.Has("below");
  if (has_above == has_below) {
    cfg.Error(has_above ? "below" : "window", "exactly one of `above` and `below` is required");
  }
  const double inf = std::numeric_limits<double>::infinity();
  double above = cfg.Double("above", 0, -inf, inf);
  double below = cfg.Double("below", 0, -inf, inf);
  p.above = has_above;
  p.limit = has_above ? above : below;
  p.field = OptionalField(cfg, "field", env.fields);
  std::string agg = cfg.Enum("aggregate", p.field >= 0 ? "sum" : "count", {"count", "sum", "max", "avg"});
  if (cfg.Has("aggregate") && p.field < 0 && agg != "count") cfg.Error("aggregate", "needs a `field` to aggregate");
  if (p.field >= 0 && agg == "count") cfg.Error("aggregate", "with a `field`, use sum, max or avg");
  p.aggregate = agg == "sum" ? Aggregate::kSum : agg == "max" ? Aggregate::kMax : agg == "avg" ? Aggregate::kAvg
                                                                                                : Aggregate::kCount;
  if (cfg.errors()->list().size() != errors_before) return nullptr;
  if (p.field >= 0) return std::make_unique<ThresholdDetector<AggCell>>(spec, env, p);
  return std::make_unique<ThresholdDetector<CountCell>>(spec, env, p);
}

SLUICE_REGISTER_DETECTOR("threshold", NewThresholdDetector);

}  // namespace sluice::detectors
