#include "detectors/payload_size/payload_size.h"

#include <cmath>
#include <limits>

#include "common/strings.h"
#include "detectors/common/group_state.h"
#include "detectors/common/label_template.h"

namespace sluice::detectors {

namespace {

struct PayloadParams {
  int field = -1;
  double factor = 5;
  uint32_t min_samples = 30;
  int64_t window_ms = 300'000;
};

// What an update changes (Apply keeps it in registers over a run of one group's updates).
struct PayloadState {
  RobustStats stats;
  int64_t last_seen = 0;
  int64_t last_outlier = INT64_MIN;
  double outlier_value = 0, outlier_limit = 0;
  uint32_t outliers = 0;  // in the current active period
};

struct PayloadGroup : PayloadState {
  CompactString labels;  // group label values, \0-separated
};
static_assert(sizeof(PayloadGroup) == 80);

// Test knob (SetPayloadSizeRunsForTest).
bool payload_runs = true;

class PayloadSizeDetector : public Detector {
 public:
  PayloadSizeDetector(const RuleSpec* spec, const DetectorEnv& env, PayloadParams p)
      : Detector(spec, env), p_(p), table_(env.max_groups) {
    lateness_ms_ = env.allowed_lateness_ms;
    if (p_.field >= 0) {
      value_source_ = ValueSource::kField;
      value_field_ = p_.field;
    } else {
      value_source_ = ValueSource::kEventBytes;
    }
    // A chunk's matches of a group with their values and times (RunEntries):
    // any run, the state has no buckets (one of 2^62 ms for the engine's test).
    value_runs_ = true;
    merge_bucket_ms_ = int64_t{1} << 62;
  }

  void Apply(size_t shard, const Update* u, size_t n, const Batch& batch,
             std::vector<SampleCandidate>* samples) override {
    auto& s = table_.shard(shard);
    std::lock_guard<std::mutex> lock(s.mu);
    GroupTable<PayloadGroup>::Cursor cursor;
    for (size_t i = 0; i < n;) {
      const Update& up = u[i];
      if (std::isnan(up.value)) {
        ++i;
        continue;
      }
      bool created;
      // The key is the group (a value run's `key` is its entries).
      PayloadGroup& g = table_.Get(s, up.group, &created, env_.evictions, &cursor);
      if (created) SetGroupLabels(batch, up.event, &g.labels);
      if (up.count == 1 && (!runs_ || i + 1 == n || u[i + 1].group != up.group)) {
        Step(g, up.value, up.ts, up.event, up.group, samples);  // a run of one: no copies in and out
        ++i;
        continue;
      }
      // The run of this group's updates from u[i] on (most of a shard's list
      // in the 30-rule set's UnusualEventSize and UnusualEventSizePerFile:
      // detectors_bench BM_ThirtyRulesStream), and the engine's value runs
      // (up.count > 1, RunEntries), the state in registers: the same steps
      // in the same order as update by update.
      PayloadState st = g;
      size_t j = i;
      do {
        const Update& x = u[j];
        if (x.count > 1) {
          const RunEntry* e = RunEntries(x);
          for (size_t k = 0; k < x.count; ++k) {
            // Past the warm values and min_samples, the values up to the first
            // outlier without the rest of Step (AddSteadyRun); the outlier by Step.
            if (st.stats.n >= steady_from_) {
              k = AddSteadyRun(st.stats, e, k, x.count, p_.factor, &st.last_seen);
              if (k == x.count) break;
            }
            Step(st, e[k].value, e[k].ts, e[k].event, x.group, samples);
          }
        } else if (!std::isnan(x.value)) {
          Step(st, x.value, x.ts, x.event, x.group, samples);
        }
      } while (++j < n && runs_ && u[j].group == up.group);
      static_cast<PayloadState&>(g) = st;
      i = j;
    }
  }

  void Evaluate(int64_t eval_ms, std::vector<GroupResult>* active) override {
    for (size_t si = 0; si < kShards; ++si) {
      auto& s = table_.shard(si);
      std::lock_guard<std::mutex> lock(s.mu);
      for (auto& [key, g] : s.map) {
        if (g.last_outlier == INT64_MIN || g.last_outlier < eval_ms - p_.window_ms) continue;
        GroupResult r;
        r.group = key;
        r.labels = GroupLabels(g.labels);
        r.value = g.outlier_value;
        r.threshold = g.outlier_limit;
        r.evidence = {{"median", FormatValue(g.stats.median)},
                      {"mad", FormatValue(g.stats.mad)},
                      {"outliers", StrCat(g.outliers)},
                      {"samples_seen", StrCat(g.stats.n)}};
        active->push_back(std::move(r));
      }
    }
  }

  size_t groups() const override { return table_.size(); }
  size_t state_bytes() const override { return table_.bytes(); }

  // Saved state (issue 6): every group's estimator and current outliers.
  void SaveState(StateWriter& w) override {
    SaveGroups(table_, w, [](StateWriter& out, const PayloadGroup& g) {
      out.Pod(g.stats);
      out.I64(g.last_seen);
      out.I64(g.last_outlier);
      out.F64(g.outlier_value);
      out.F64(g.outlier_limit);
      out.U32(g.outliers);
      SaveLabels(out, g.labels);
    });
  }
  bool LoadState(StateReader& r) override {
    return LoadGroups(table_, r, [](StateReader& in, PayloadGroup* g) {
      return in.Pod(&g->stats) && in.I64(&g->last_seen) && in.I64(&g->last_outlier) && in.F64(&g->outlier_value) &&
             in.F64(&g->outlier_limit) && in.U32(&g->outliers) && LoadLabels(in, &g->labels);
    });
  }

 private:
  // One event's number (`value`, time `ts`) applied to a group's state:
  // judged against the group's values so far, then added to them.
  __attribute__((always_inline)) void Step(PayloadState& g, double value, int64_t ts, uint32_t event,
                                           uint64_t group, std::vector<SampleCandidate>* samples) const {
    if (ts > g.last_seen) g.last_seen = ts;
    if (g.stats.n >= p_.min_samples) {
      double limit = g.stats.Limit(p_.factor);
      if (value > limit) {
        if (g.last_outlier == INT64_MIN || ts > g.last_outlier + p_.window_ms) {
          g.outlier_value = value;
          g.outliers = 0;
        } else {
          g.outlier_value = std::max(g.outlier_value, value);
        }
        ++g.outliers;
        g.outlier_limit = limit;
        g.last_outlier = std::max(g.last_outlier, ts);
        samples->push_back({group, event});
      }
    }
    g.stats.Add(value);
  }

  PayloadParams p_;
  // From this many values on, Step's judgement and Add are AddSteadyRun's.
  const uint32_t steady_from_ = std::max(p_.min_samples, RobustStats::kWarmValues);
  GroupTable<PayloadGroup> table_;
  const bool runs_ = payload_runs;
};

}  // namespace

void SetPayloadSizeRunsForTest(bool on) { payload_runs = on; }

std::unique_ptr<Detector> NewPayloadSizeDetector(ConfigMap& cfg, const RuleSpec* spec, const DetectorEnv& env) {
  PayloadParams p;
  size_t errors_before = cfg.errors()->list().size();
  p.field = OptionalField(cfg, "field", env.fields);
  p.factor = cfg.Double("factor", 5, 0.1, 1e6);
  p.min_samples = static_cast<uint32_t>(cfg.Int("min_samples", 30, 1, 1'000'000'000));
  p.window_ms = cfg.DurationMs("window", p.window_ms, 1);
  if (cfg.errors()->list().size() != errors_before) return nullptr;
  return std::make_unique<PayloadSizeDetector>(spec, env, p);
}

SLUICE_REGISTER_DETECTOR("payload_size", NewPayloadSizeDetector);

}  // namespace sluice::detectors
