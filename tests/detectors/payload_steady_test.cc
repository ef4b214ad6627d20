// AddSteadyRun (payload_size's run of values past the warm values and
// min_samples, the estimator in registers, stopping at the first outlier)
// against Limit and Add value by value, as the detector's Step does them:
// random runs (values near the median, equal to it, zeros of either sign,
// negatives, huge outliers, tiny steps, infinities), random factors and min_samples,
// estimators near 2^32 values; every value's outcome (outlier or not, its
// limit) and the estimator and newest time after the run must be the same to
// the bit.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "detectors/payload_size/payload_size.h"

namespace sluice::detectors {
namespace {

struct Outcome {
  RobustStats stats;
  int64_t last_seen = 0;
  std::vector<std::pair<size_t, double>> outliers;  // index, limit
};

// The same bits, or both NaN: an infinite value makes the estimator NaN,
// whose sign is the compiler's choice of operand order in either path.
bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b)); }

// The detector's Step for one value: the newest time, the judgement once
// min_samples values are in, then Add.
void StepOne(RobustStats& s, int64_t& seen, const std::vector<RunEntry>& e, size_t k, double factor, uint32_t min,
             Outcome* o) {
  if (e[k].ts > seen) seen = e[k].ts;
  if (s.n >= min) {
    const double limit = s.Limit(factor);
    if (e[k].value > limit) o->outliers.emplace_back(k, limit);
  }
  s.Add(e[k].value);
}

Outcome ValueByValue(RobustStats s, int64_t seen, const std::vector<RunEntry>& e, double factor, uint32_t min) {
  Outcome o;
  for (size_t k = 0; k < e.size(); ++k) StepOne(s, seen, e, k, factor, min, &o);
  o.stats = s;
  o.last_seen = seen;
  return o;
}

// As PayloadSizeDetector::Apply steps a value run.
Outcome Steady(RobustStats s, int64_t seen, const std::vector<RunEntry>& e, double factor, uint32_t min,
               size_t* steady_values) {
  Outcome o;
  const uint32_t from = std::max(min, RobustStats::kWarmValues);
  for (size_t k = 0; k < e.size(); ++k) {
    if (s.n >= from) {
      const size_t stop = AddSteadyRun(s, e.data(), k, e.size(), factor, &seen);
      *steady_values += stop - k;
      k = stop;
      if (k == e.size()) break;
    }
    StepOne(s, seen, e, k, factor, min, &o);
  }
  o.stats = s;
  o.last_seen = seen;
  return o;
}

TEST(PayloadSteadyTest, SameAsLimitAndAddPerValue) {
  size_t steady_values = 0, outliers = 0;
  for (uint64_t seed = 1; seed <= 3000; ++seed) {
    std::mt19937_64 rng(seed);
    const double factor = std::vector<double>{0.1, 0.5, 3, 6, 10, 1e6}[rng() % 6];
    const uint32_t min = std::vector<uint32_t>{1, 5, 16, 17, 20, 50}[rng() % 6];
    const double base = std::vector<double>{0, 1, 120, 900, 1e6, 3e15, -50}[rng() % 7];
    const double spread = std::vector<double>{0, 1e-9, 0.5, 20, 1000}[rng() % 5] * (1 + std::fabs(base) * 1e-3);
    RobustStats s;
    int64_t seen = static_cast<int64_t>(rng() % 1000);
    // Warm it up (or not) with values like the run's.
    auto value = [&]() -> double {
      switch (rng() % 20) {
        case 0: return base + 1e6 + static_cast<double>(rng() % 1000) * (1 + std::fabs(base));  // an outlier
        case 1: return s.median;                                                             // on the median
        case 2: return 0.0;
        case 3: return -0.0;
        case 4: return -base - static_cast<double>(rng() % 100);
        case 5: return rng() % 8 == 0 ? INFINITY : base;  // no NaN: value runs have none
        default: {
          std::normal_distribution<double> nd(base, spread > 0 ? spread : 1e-12);
          return nd(rng);
        }
      }
    };
    const size_t warm = rng() % 80;
    for (size_t i = 0; i < warm; ++i) s.Add(value());
    if (rng() % 50 == 0) s.n = UINT32_MAX - static_cast<uint32_t>(rng() % 40);  // near the counter's end
    std::vector<RunEntry> run;
    const size_t count = 1 + rng() % 300;
    int64_t ts = seen - 50;
    for (size_t i = 0; i < count; ++i) {
      ts += static_cast<int64_t>(rng() % 7) - 1;  // mostly forward, now and then back
      run.push_back(RunEntry{value(), ts, static_cast<uint32_t>(i)});
    }
    const Outcome want = ValueByValue(s, seen, run, factor, min);
    const Outcome got = Steady(s, seen, run, factor, min, &steady_values);
    ASSERT_TRUE(SameBits(got.stats.median, want.stats.median)) << "seed " << seed;
    ASSERT_TRUE(SameBits(got.stats.mad, want.stats.mad)) << "seed " << seed;
    ASSERT_EQ(got.stats.n, want.stats.n) << "seed " << seed;
    ASSERT_EQ(got.last_seen, want.last_seen) << "seed " << seed;
    ASSERT_EQ(got.outliers.size(), want.outliers.size()) << "seed " << seed;
    for (size_t i = 0; i < want.outliers.size(); ++i) {
      ASSERT_EQ(got.outliers[i].first, want.outliers[i].first) << "seed " << seed;
      ASSERT_TRUE(SameBits(got.outliers[i].second, want.outliers[i].second)) << "seed " << seed;
    }
    outliers += want.outliers.size();
  }
  // Both kinds of value were met often.
  EXPECT_GT(steady_values, 100'000u);
  EXPECT_GT(outliers, 10'000u);
}

}  // namespace
}  // namespace sluice::detectors
