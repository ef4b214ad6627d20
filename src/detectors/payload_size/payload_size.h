#pragma once
// type: payload_size — a value far above what its group usually sees: an
// uploaded 3D model much larger than the customer's usual, a request body
// much larger than the endpoint's usual.
//
//   field: file.size   a numeric field; omitted: the event's own size in bytes
//   factor: 5          fires when value > median + factor × 1.4826 × MAD
//   min_samples: 50    no judgement before the group has this many values (default 30)
//   window: 5m         an outlier keeps the group's alert active this long (default 5m)
//
// Median and MAD (median absolute deviation) are tracked per group with a
// streaming estimator (a robust mean and mean deviation for the first values,
// then sign-step updates scaled by the MAD): 3 numbers per group, a few
// arithmetic operations per event, robust to the outliers it is looking for.
// The deviation used is at least 5% of the median, so a group of identical
// values does not fire on a tiny change.

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "detectors/common/detector.h"

namespace sluice::detectors {

std::unique_ptr<Detector> NewPayloadSizeDetector(ConfigMap& cfg, const RuleSpec* spec, const DetectorEnv& env);
// Whether detectors made afterwards apply a run of one group's updates with
// its state in registers (on by default) or update by update (tests only).
void SetPayloadSizeRunsForTest(bool on);

// The streaming median / MAD estimator (exposed for tests). Inline: two
// payload_size rules call it for every event in the 30-rule set (detectors_bench
// BM_ThirtyRulesStream); the detector's Apply keeps a group's estimator in
// registers over a run of its updates.
struct RobustStats {
  static constexpr uint32_t kWarmValues = 16;  // values averaged before sign steps start
  static constexpr double kStep = 0.05;        // sign-step size, as a fraction of the MAD

  double median = 0, mad = 0;
  uint32_t n = 0;
  void Add(double x) {
    ++n;
    if (n == 1) {
      median = x;
      mad = 0;
      return;
    }
    if (n <= kWarmValues) {
      // Running mean and mean absolute deviation as the starting point.
      double d = x - median;
      median += d / n;
      mad += (std::fabs(x - median) * 0.8 - mad) / n;  // mean |dev| ≈ 1.25 MAD for normal data
      return;
    }
    SignStep(x);
  }
  // Add for an estimator past its warm values (kWarmValues <= n < 2^32 - 1):
  // the same steps without the tests of n.
  void AddSteady(double x) {
    ++n;
    SignStep(x);
  }
  // The smallest value counted as an outlier with `factor`.
  double Limit(double factor) const {
    double scale = std::max({1.4826 * mad, 0.05 * std::fabs(median), 1e-9});
    return median + factor * scale;
  }

 private:
  void SignStep(double x) {
    double scale = std::max({mad, std::fabs(median) * 1e-3, 1e-9});
    double step = kStep * scale;
    median += x > median ? step : (x < median ? -step : 0);
    double dev = std::fabs(x - median);
    mad += dev > mad ? step : -step;
    if (mad < 0) mad = 0;
  }
};

// The values of `e[k..count)` judged and added to `s` (Limit(factor), then
// Add, each value's time into *last_seen) while none is above its limit and
// `s` is steady (n >= kWarmValues; the caller's min_samples reached): the
// estimator in registers, no test of n per value (the 30-rule set's
// UnusualEventSize and UnusualEventSizePerFile step every event through it;
// detectors_bench BM_ThirtyRulesStream). Returns where it stopped: `count`, or
// the first value above its limit (for the caller's full step), or where n
// would reach 2^32 - 1. The same results, to the bit, as Limit and Add value
// by value (tests/detectors/payload_steady_test.cc).
inline size_t AddSteadyRun(RobustStats& s, const RunEntry* e, size_t k, size_t count, double factor,
                           int64_t* last_seen) {
  if (s.n >= UINT32_MAX - 1) return k;
  const size_t end = std::min<size_t>(count, k + (UINT32_MAX - 1 - s.n));
  RobustStats st = s;
  int64_t seen = *last_seen;
  for (; k < end; ++k) {
    const double v = e[k].value;
    if (v > st.Limit(factor)) break;
    if (e[k].ts > seen) seen = e[k].ts;
    st.AddSteady(v);
  }
  s = st;
  *last_seen = seen;
  return k;
}

}  // namespace sluice::detectors
