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
#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "detectors/common/detector.h"

namespace sluice::detectors {

std::unique_ptr<Detector> NewPayloadSizeDetector(ConfigMap& cfg, const RuleSpec* spec, const DetectorEnv& env);
// Whether detectors made afterwards apply a run of one group's updates with
// its state in registers (on by default) or update by update (tests only).
void SetPayloadSizeRunsForTest(bool on);
// Whether detectors made afterwards step several groups' runs in lockstep in
// ApplyShards (on by default, with the runs) or shard by shard (tests only).
void SetPayloadSizeLanesForTest(bool on);

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
  // The step of the estimator, arranged so that the chain from one value's
  // mad to the next's is short (the steps of a group are a dependency chain:
  // PayloadSizeDetector::Apply was latency-bound, 3.4% of sluice's samples in
  // the 30-rule run): `scale` is std::max({mad, |median| × 1e-3, 1e-9}) with
  // its NaN behaviour (the first NaN kept, a NaN later skipped) but mad
  // last, so one max waits for it; both of mad's outcomes are computed and
  // clamped while the deviation is, then one is selected. The same bits as
  // `mad += dev > mad ? step : -step; if (mad < 0) mad = 0;`
  // (tests/detectors/payload_steady_test.cc).
  void SignStep(double x) {
    const double m = std::fabs(median) * 1e-3;
    const double floor = m >= 1e-9 ? m : 1e-9;  // max(m, 1e-9), and 1e-9 for a NaN m
    const double scale = mad < floor ? floor : mad;
    const double step = kStep * scale;
#if defined(__SSE2__)
    // step, -step or +0 by masks: GCC made the nested ?: a branch on
    // x > median, which a value near the median takes at random.
    const __m128d xv = _mm_set_sd(x), mv = _mm_set_sd(median), sv = _mm_set_sd(step);
    const __m128d sel = _mm_or_pd(_mm_and_pd(_mm_cmpgt_sd(xv, mv), sv),
                                  _mm_and_pd(_mm_cmplt_sd(xv, mv), _mm_xor_pd(sv, _mm_set_sd(-0.0))));
    median += _mm_cvtsd_f64(sel);
#else
    median += x > median ? step : (x < median ? -step : 0);
#endif
    const double dev = std::fabs(x - median);
    double up = mad + step, down = mad - step;
    up = up < 0 ? 0 : up;
    down = down < 0 ? 0 : down;
    mad = dev > mad ? up : down;
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
