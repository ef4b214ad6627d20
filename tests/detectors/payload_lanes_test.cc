// payload_size's ApplyShards steps several groups' runs in lockstep (lanes)
// against Apply shard by shard (SetPayloadSizeLanesForTest(false)): random
// lists over all shards (many groups, value runs and single updates, a
// group's updates split by others', NaN values, outliers mid-run, groups in
// their warm-up or below min_samples beside steady ones, new groups among
// known ones) must leave the same saved state to the byte, propose the same
// samples in the same order and evaluate to the same results.
// And RobustStats' step against the formula it was written as before its
// dependency chain was shortened, to the bit.
//
// Its own binary: the knob is read when a detector is made.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <deque>
#include <random>

#include "detectors/detector_shown.h"
#include "detectors/payload_size/payload_size.h"
#include "detectors/rules_harness.h"

namespace sluice::detectors {
namespace {

using testing::Ev;
using testing::kT0;
using testing::RulesHarness;

// The same bits, or both NaN (a NaN's sign is the compiler's choice of operand order).
bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b)); }

// RobustStats::SignStep as first written (std::max of three, then a signed step).
void ReferenceSignStep(double x, double& median, double& mad) {
  double scale = std::max({mad, std::fabs(median) * 1e-3, 1e-9});
  double step = RobustStats::kStep * scale;
  median += x > median ? step : (x < median ? -step : 0);
  double dev = std::fabs(x - median);
  mad += dev > mad ? step : -step;
  if (mad < 0) mad = 0;
}

TEST(PayloadLanesTest, SignStepSameAsReference) {
  std::mt19937_64 rng(7);
  const std::vector<double> specials = {0.0, -0.0, 1e-300, -1e-300, 1e-9, 1e-12, 1.0, -1.0, 1e300, -1e300,
                                        INFINITY, -INFINITY, NAN, -NAN, 5e-7, 120, 900};
  auto pick = [&]() -> double {
    if (rng() % 3 == 0) return specials[rng() % specials.size()];
    std::normal_distribution<double> nd(0, std::vector<double>{1e-9, 1, 1000, 1e12}[rng() % 4]);
    return nd(rng);
  };
  size_t nan_states = 0;
  for (int i = 0; i < 2'000'000; ++i) {
    double median = pick(), mad = pick(), x = pick();
    if (rng() % 4 == 0) mad = std::fabs(mad);
    if (rng() % 8 == 0) x = median;
    nan_states += std::isnan(median) || std::isnan(mad);
    double rm = median, rd = mad;
    ReferenceSignStep(x, rm, rd);
    RobustStats s;
    s.median = median;
    s.mad = mad;
    s.n = 100;
    s.AddSteady(x);
    ASSERT_TRUE(SameBits(s.median, rm) && SameBits(s.mad, rd))
        << "median " << median << " mad " << mad << " x " << x << ": " << s.median << " " << s.mad << " want " << rm
        << " " << rd;
  }
  EXPECT_GT(nan_states, 10'000u);
}

// Everything the detector shows: its groups' saved state, its evaluation at `eval_ms`.
std::string Shown(Detector* d, int64_t eval_ms) {
  return testing::SavedByKey(d,
                             [](StateReader& r) {
                               RobustStats st;
                               int64_t t1, t2;
                               double v1, v2;
                               uint32_t u;
                               std::string_view labels;
                               return r.Pod(&st) && r.I64(&t1) && r.I64(&t2) && r.F64(&v1) && r.F64(&v2) &&
                                      r.U32(&u) && r.StrView(&labels);
                             }) +
         testing::Evaluated(d, eval_ms);
}

TEST(PayloadLanesTest, SameAsShardByShard) {
  size_t samples_seen = 0, values = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    std::mt19937_64 rng(seed);
    const std::string yaml = StrCat("rules:\n  - name: P\n    type: payload_size\n    match: {u: {exists: true}}\n",
                                    "    group_by: [u]\n    factor: ", testing::Pick(rng, {"0.5", "3", "6"}),
                                    "\n    min_samples: ", testing::Pick(rng, {"1", "5", "20", "50", "300"}),
                                    "\n    window: 30s\n");
    SetPayloadSizeLanesForTest(true);
    RulesHarness lanes;
    ASSERT_TRUE(lanes.Load(yaml).ok()) << lanes.errors.ToString();
    SetPayloadSizeLanesForTest(false);
    RulesHarness shards;
    ASSERT_TRUE(shards.Load(yaml).ok());
    SetPayloadSizeLanesForTest(true);
    Detector* a = lanes.engine->detector("P");
    Detector* b = shards.engine->detector("P");

    // Events only for the new groups' labels (event i: u = "u<i>").
    std::vector<std::string> evs;
    for (int i = 0; i < 64; ++i) evs.push_back(Ev(kT0, StrCat(R"("u":"u)", i, R"(")")));
    auto batch = lanes.MakeBatch(evs);

    // Groups: a hash (its top bits its shard), a typical value, its label event.
    // (Every fourth seed hundreds: many groups in a shard.)
    const size_t ngroups = 1 + rng() % (seed % 4 == 0 ? 600 : 40);
    std::vector<uint64_t> groups;
    std::vector<double> base;
    std::vector<int> kind;  // 0: spread values; 1: always `base` (ties with the median); 2: base - 1, base, base + 1
    for (size_t g = 0; g < ngroups; ++g) {
      groups.push_back(rng());
      base.push_back(std::vector<double>{0, 1, 120, 900, 1e6, -50}[rng() % 6]);
      kind.push_back(static_cast<int>(rng() % 3));
    }
    int64_t t = kT0;
    for (int round = 0; round < 40; ++round) {
      std::vector<Update> lists[kShards];
      std::deque<std::vector<RunEntry>> runs;  // the value runs' entries
      // Now and then a group joins late (a new group among known ones).
      const size_t known = std::min(ngroups, 1 + static_cast<size_t>(round) * ngroups / 10);
      const int nupdates = 1 + static_cast<int>(rng() % (ngroups > 40 ? 1500 : 80));
      for (int k = 0; k < nupdates; ++k) {
        const size_t g = rng() % (rng() % 20 == 0 ? ngroups : known);
        auto value = [&]() -> double {
          switch (rng() % 40) {
            case 0: return base[g] + 1e6 + static_cast<double>(rng() % 1000);  // an outlier
            case 1: return 0.0;
            case 2: return -0.0;
            default: {
              if (kind[g] == 1) return base[g];
              if (kind[g] == 2) return base[g] + static_cast<double>(rng() % 3) - 1;
              std::normal_distribution<double> nd(base[g], 1 + std::fabs(base[g]) * 0.05);
              return nd(rng);
            }
          }
        };
        Update up{};
        up.event = static_cast<uint32_t>(g % 64);
        up.group = groups[g];
        if (rng() % 3 == 0) {
          t += static_cast<int64_t>(rng() % 50);
          up.count = 1;
          up.key = up.group;
          up.ts = up.ts_last = t - (rng() % 10 == 0 ? static_cast<int64_t>(rng() % 5000) : 0);
          up.value = rng() % 6 == 0 ? NAN : value();
        } else {
          std::vector<RunEntry>& e = runs.emplace_back();
          const size_t count = 2 + rng() % 150;
          for (size_t q = 0; q < count; ++q) {
            t += static_cast<int64_t>(rng() % 5);
            e.push_back(RunEntry{value(), t, static_cast<uint32_t>(rng() % 64)});
          }
          up.count = static_cast<uint32_t>(count);
          up.key = RunEntriesKey(e.data());
          up.ts = e.front().ts;
          up.ts_last = e.back().ts;
          up.value = e.front().value;
          up.event = e.front().event;
        }
        values += up.count;
        lists[ShardOf(up.group)].push_back(up);
      }
      std::vector<SampleCandidate> sa{{1, 2}}, sb{{1, 2}};  // appended to what is there
      a->ApplyShards(lists, *batch, &sa);
      b->ApplyShards(lists, *batch, &sb);
      ASSERT_TRUE(testing::SameSamples(sa, sb)) << "seed " << seed << " round " << round;
      samples_seen += sa.size() - 1;
      ASSERT_EQ(Shown(a, t), Shown(b, t)) << "seed " << seed << " round " << round;
    }
  }
  EXPECT_GT(samples_seen, 1000u);
  EXPECT_GT(values, 1'000'000u);
}

}  // namespace
}  // namespace sluice::detectors
