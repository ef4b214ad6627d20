// The threshold detector's compact aggregate groups (sum, max, avg of a
// field; SetThresholdCompactLimitsForTest) against the exact form they move to
// past their limits: random rules and streams give the same alerts (values,
// evidence, samples), metrics and saved state whether every group keeps the
// exact form from its first event (max_n 0: the representation of before the
// compact groups), moves over after 3 events in a bucket or 2 buckets of
// first_seen offset, or at the default limits; a saved state loads back to the
// same state; a bucket of 70,000 events counts exactly. Likewise a sum or avg
// group's runs of updates applied as one (SetThresholdSumRunsForTest) against
// one by one, and a chunk's matches of a group handed with their values
// (value runs, RuleEngineOptions::chunk_runs) against per match.

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include "detectors/rules_harness.h"
#include "detectors/threshold/threshold.h"

namespace sluice::detectors {
namespace {

using testing::Ev;
using testing::kT0;
using testing::Pick;
using testing::CopyRuleState;
using testing::RulesHarness;
using testing::SortedAlerts;
using testing::TickAndCompare;
using testing::TickLaterAndCompare;

std::string RandomRule(std::mt19937_64& rng) {
  const bool above = rng() % 2;
  return StrCat("rules:\n  - name: R\n    type: threshold\n    match: {service.name: {exists: true}}\n",
                "    group_by: ", Pick(rng, {"[service.name]", "[]", "[service.name, host.name]"}),
                "\n    window: ", Pick(rng, {"1s", "10s", "1m", "5m"}), "\n    field: n\n    aggregate: ",
                Pick(rng, {"sum", "max", "avg"}), "\n    ", above ? "above: " : "below: ",
                Pick(rng, {"0", "10", "500", "2000"}), "\n");
}

// The saved groups of each shard, sorted (SaveGroups writes them in table
// order), with first_seen as the start of the bucket it rounds up to (what a
// compact group keeps; the only decision it takes is first_seen <= a bucket
// boundary), unless `round_first` is false.
std::vector<std::string> SavedGroups(Detector* d, bool round_first = true) {
  StateWriter w;
  d->SaveState(w);
  const std::string& b = w.buffer();
  auto i64 = [&](size_t at) {
    int64_t v;
    std::memcpy(&v, b.data() + at, 8);
    return v;
  };
  auto u32 = [&](size_t at) {
    uint32_t v;
    std::memcpy(&v, b.data() + at, 4);
    return v;
  };
  const int64_t bucket_ms = i64(0);
  std::vector<std::string> out{StrCat("seeded=", static_cast<int>(b[8]))};
  size_t p = 8 + 1 + 4;  // bucket width, seeded, shard count
  while (p < b.size()) {
    const uint64_t n = static_cast<uint64_t>(i64(p));
    p += 8;
    std::vector<std::string> shard;
    for (uint64_t i = 0; i < n; ++i) {
      const size_t start = p;
      p += 8;              // key
      p += 4 + u32(p);     // the ring
      const size_t first_at = p;
      p += 2 * 8;          // first_seen, last_seen
      p += 4 + u32(p);     // labels
      std::string g = b.substr(start, p - start);
      const int64_t first = i64(first_at);
      const int64_t rounded =
          round_first ? (first / bucket_ms + (first % bucket_ms > 0 ? 1 : 0)) * bucket_ms : first;
      std::memcpy(g.data() + (first_at - start), &rounded, 8);
      shard.push_back(std::move(g));
    }
    std::sort(shard.begin(), shard.end());
    out.insert(out.end(), shard.begin(), shard.end());
    out.push_back("--");
  }
  return out;
}

struct Limits {
  Limits(uint32_t n, int32_t first) { SetThresholdCompactLimitsForTest(n, first); }
  ~Limits() { SetThresholdCompactLimitsForTest(0xFFFF, INT32_MAX); }
};

// A threshold rule on `n` per service over 10 s (buckets of 1250 ms).
std::string TenSecondRule(const std::string& aggregate_and_limit) {
  return StrCat("rules:\n  - name: R\n    type: threshold\n    match: {service.name: {exists: true}}\n",
                "    group_by: [service.name]\n    window: 10s\n    field: n\n    ", aggregate_and_limit, "\n");
}

// `yaml` into an engine at the default limits and one whose groups all keep
// the exact form.
bool LoadCompactAndExact(const std::string& yaml, RulesHarness& compact, RulesHarness& exact) {
  Limits l(0, 0);
  if (!exact.Load(yaml).ok()) return false;
  SetThresholdCompactLimitsForTest(0xFFFF, INT32_MAX);
  return compact.Load(yaml).ok();
}

// The next event time of a random stream: the stream's clock `*t` moves on
// by up to `step`; `out_of_order` events in 100 are up to 5 s older than it,
// one in 100 is 20 minutes late and one 3 minutes ahead.
int64_t NextTime(std::mt19937_64& rng, int64_t step, uint64_t out_of_order, int64_t* t) {
  *t += static_cast<int64_t>(rng() % static_cast<uint64_t>(step + 1));
  int64_t ts = *t;
  const uint64_t r = rng() % 100;
  if (r < out_of_order) ts -= static_cast<int64_t>(rng() % 5000);
  if (r == 5) ts -= 20 * 60'000;
  if (r == 6) ts += 3 * 60'000;
  return ts;
}

std::string Value(std::mt19937_64& rng) {
  switch (rng() % 10) {
    case 0:
      return "";  // no field: not counted
    case 1:
      return R"(,"n":"abc")";  // not a number
    case 2:
      return StrCat(R"(,"n":)", Pick(rng, {"12.5", "3.0e7", "-4", "0.1", "16777217"}));
    default:
      return StrCat(R"(,"n":)", rng() % 1000);
  }
}

TEST(ThresholdCompactTest, SameResultsWhateverTheLimits) {
  size_t alerts_seen = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    std::mt19937_64 rng(seed);
    const std::string yaml = RandomRule(rng);
    RuleEngineOptions o{.allowed_lateness_ms = static_cast<int64_t>(rng() % 3) * 2000,
                        // Evictions, at one group per shard: a shard's victim is then its one
                        // group (with more, the probed ones follow the table's order, which
                        // differs between the engines' tables).
                        .max_groups_per_rule = seed % 4 == 0 ? kShards : 100'000u,
                        .merge_updates = seed % 3 != 0};
    const std::pair<uint32_t, int32_t> limits[] = {{0, 0}, {3, 2}, {0xFFFF, INT32_MAX}};
    RulesHarness h[3];
    for (int k = 0; k < 3; ++k) {
      Limits l(limits[k].first, limits[k].second);
      ASSERT_TRUE(h[k].Load(yaml, o).ok()) << h[k].errors.ToString() << yaml;
    }
    const int groups = 1 + static_cast<int>(rng() % 8);
    int64_t t = kT0 + static_cast<int64_t>(rng() % 1000);
    for (int b = 0; b < 25; ++b) {
      std::vector<std::string> evs;
      const int n = 1 + static_cast<int>(rng() % 400);
      const int64_t step = std::vector<int64_t>{0, 5, 200, 3000}[rng() % 4];
      for (int k = 0; k < n; ++k) {
        const int64_t ts = NextTime(rng, step, 5, &t);
        const std::string svc = StrCat("svc-", rng() % static_cast<uint64_t>(groups));
        // Runs of one group (merged maxima).
        const int run = rng() % 4 == 0 ? 1 + static_cast<int>(rng() % 20) : 1;
        for (int j = 0; j < run; ++j) {
          evs.push_back(Ev(ts, StrCat(R"("service":{"name":")", svc, R"("},"host":{"name":"h-)", rng() % 2, R"("})",
                                      Value(rng))));
        }
      }
      for (auto& x : h) x.Feed(evs);
      if (rng() % 2) {
        ASSERT_TRUE(TickAndCompare(h, 3, t + static_cast<int64_t>(rng() % 20'000), &alerts_seen))
            << "seed " << seed << "\n" << yaml;
      }
      const std::vector<std::string> s0 = SavedGroups(h[0].engine->detector("R"));
      for (int k = 1; k < 3; ++k) {
        ASSERT_EQ(s0, SavedGroups(h[k].engine->detector("R"))) << "limits " << k << " seed " << seed << yaml;
      }
    }
    // The saved state of the (3, 2) engine, loaded into a fresh one, saves the
    // same and goes on giving the same alerts.
    RulesHarness loaded;
    {
      Limits l(3, 2);
      ASSERT_TRUE(loaded.Load(yaml, o).ok());
      ASSERT_TRUE(CopyRuleState(h[1], loaded, "R"));
      EXPECT_EQ(SavedGroups(loaded.engine->detector("R")), SavedGroups(h[1].engine->detector("R")));
    }
    ASSERT_TRUE(TickLaterAndCompare(h, 3, t, &alerts_seen, "R")) << "seed " << seed;
  }
  EXPECT_GT(alerts_seen, 100u);
}

// Past 65,535 events in one bucket at the default limits: the count and the
// sum are exact (the avg and events_in_window of 16-bit cells would wrap).
TEST(ThresholdCompactTest, BucketOverSixteenBitsCountsExactly) {
  const std::string kRule = TenSecondRule("aggregate: avg\n    above: 1");
  RulesHarness compact, exact;
  ASSERT_TRUE(LoadCompactAndExact(kRule, compact, exact));
  for (RulesHarness* h : {&compact, &exact}) {
    h->FeedSpread(60'000, kT0, 1000, R"("service":{"name":"storm"},"n":2)");
    h->FeedSpread(10'000, kT0, 1000, R"("service":{"name":"storm"},"n":4)");
    h->engine->Tick(kT0 + 1000);  // stream time: the newest event, then on by the wall clock
    h->engine->Tick(kT0 + 5000);
  }
  const std::vector<std::string> alerts = SortedAlerts(compact.sink, true);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_NE(alerts[0].find("\"events_in_window\":\"70000\""), std::string::npos) << alerts[0];
  EXPECT_NE(alerts[0].find(StrCat(" value=", (60'000 * 2 + 10'000 * 4) / 70'000.0)), std::string::npos) << alerts[0];
  EXPECT_EQ(alerts, SortedAlerts(exact.sink, true));
  EXPECT_EQ(SavedGroups(compact.engine->detector("R")), SavedGroups(exact.engine->detector("R")));
}

// `below` judges a group once a whole window has passed since it was first
// seen: the compact group keeps the bucket first_seen rounds up to, and must
// start judging at the same evaluation as the exact one, wherever in its
// bucket the first event fell (ticks every 50 ms across the window's end).
TEST(ThresholdCompactTest, BelowJudgesFromTheSameEvaluation) {
  const std::string kRule = TenSecondRule("aggregate: sum\n    below: 100");
  for (int64_t offset : {0, 1, 600, 1249, 1250, 2400}) {  // buckets of 1250 ms
    RulesHarness compact, exact;
    ASSERT_TRUE(LoadCompactAndExact(kRule, compact, exact));
    size_t fired = 0;
    for (RulesHarness* h : {&compact, &exact}) h->Feed({Ev(kT0 + offset, R"("service":{"name":"a"},"n":5)")});
    for (int64_t now = kT0 + offset; now < kT0 + offset + 14'000; now += 50) {
      for (RulesHarness* h : {&compact, &exact}) h->engine->Tick(now);
      const std::vector<std::string> a = SortedAlerts(compact.sink, true);
      fired += a.size();
      ASSERT_EQ(a, SortedAlerts(exact.sink, true)) << "offset " << offset << " now " << now - kT0;
    }
    EXPECT_GT(fired, 0u) << offset;
  }
}

// A value of `n` for the sum runs: mostly small integers (runs that fold),
// integers whose runs cross 2^24 in a cell (2^23 and 2^24 themselves), some
// that round in a float cell (2^24 + 1, fractions), negatives, not numbers.
std::string RunValue(std::mt19937_64& rng) {
  switch (rng() % 16) {
    case 0:
      return "";  // no field: not counted
    case 1:
      return R"(,"n":"abc")";
    case 2:
      return StrCat(R"(,"n":)", Pick(rng, {"12.5", "0.1", "-4", "-0", "16777217", "1e300", "-3000000"}));
    case 3:
      return StrCat(R"(,"n":)", Pick(rng, {"8388608", "16777216", "16777215", "4000000", "5000001"}));
    case 4:
      return StrCat(R"(,"n":)", 1'000'000 + rng() % 3'000'000);
    default:
      return StrCat(R"(,"n":)", rng() % 1000);
  }
}

struct SumRuns {
  explicit SumRuns(bool on) { SetThresholdSumRunsForTest(on); }
  ~SumRuns() { SetThresholdSumRunsForTest(true); }
};

// `yaml` into h[0..4): engine k with SumRun on or off (sum_runs[k]), the
// engine's value runs on or off (chunk_runs[k]), [0] and [1] at the default
// compact limits, [2] and [3] moving groups to the exact form after 3 events
// a bucket or 2 buckets of first_seen offset.
::testing::AssertionResult LoadFour(RulesHarness* h, const std::string& yaml, RuleEngineOptions o,
                                    std::array<bool, 4> sum_runs, std::array<bool, 4> chunk_runs) {
  const std::pair<uint32_t, int32_t> limits[] = {{0xFFFF, INT32_MAX}, {0xFFFF, INT32_MAX}, {3, 2}, {3, 2}};
  for (int k = 0; k < 4; ++k) {
    SumRuns r(sum_runs[k]);
    Limits l(limits[k].first, limits[k].second);
    o.chunk_runs = chunk_runs[k];
    if (!h[k].Load(yaml, o).ok()) return ::testing::AssertionFailure() << h[k].errors.ToString() << yaml;
  }
  return ::testing::AssertionSuccess();
}

// Runs of one group's updates in one bucket applied as one update (sum, avg)
// against one by one: the same alerts (values, evidence, samples), metrics
// and saved state, byte for byte at the same compact limits, on streams of
// long runs of a few groups whose cells reach 2^24, hold fractions or
// negatives, runs across bucket boundaries, out of order and late events,
// and at compact limits that move groups to the exact form within a run.
TEST(ThresholdCompactTest, SumRunsSameAsOneByOne) {
  size_t alerts_seen = 0;
  for (uint64_t seed = 1; seed <= 80; ++seed) {
    std::mt19937_64 rng(seed);
    const bool above = rng() % 2;
    const std::string yaml =
        StrCat("rules:\n  - name: R\n    type: threshold\n    match: {service.name: {exists: true}}\n",
               "    group_by: ", Pick(rng, {"[service.name]", "[]", "[service.name, host.name]"}),
               "\n    window: ", Pick(rng, {"1s", "10s", "1m"}), "\n    field: n\n    aggregate: ",
               Pick(rng, {"sum", "avg"}), "\n    ", above ? "above: " : "below: ",
               Pick(rng, {"0", "500", "2000", "1.6e7", "3.3e7"}), "\n");
    RuleEngineOptions o{.allowed_lateness_ms = static_cast<int64_t>(rng() % 3) * 2000,
                        .max_groups_per_rule = seed % 5 == 0 ? kShards : 100'000u};  // evictions (1 per shard)
    // [0]: one by one, the reference; [1]: runs; [2]: runs, groups moving
    // to the exact form after 3 events a bucket; [3]: one by one, likewise.
    // The engine's updates per match (no value runs: ValueRunsSameAsPerMatch).
    o.chunk_runs = false;
    RulesHarness h[4];
    ASSERT_TRUE(LoadFour(h, yaml, o, {false, true, true, false}, {false, false, false, false}));
    const int groups = 1 + static_cast<int>(rng() % (seed % 2 ? 3 : 12));
    int64_t t = kT0 + static_cast<int64_t>(rng() % 1000);
    for (int b = 0; b < 25; ++b) {
      std::vector<std::string> evs;
      const int n = 1 + static_cast<int>(rng() % 600);
      const int64_t step = std::vector<int64_t>{0, 1, 5, 200, 3000}[rng() % 5];
      int svc = 0;
      for (int k = 0; k < n; ++k) {
        const int64_t ts = NextTime(rng, step, 3, &t);
        // Long runs of one group, or groups taking turns (runs of a group
        // past others' updates in a shard's list).
        if (rng() % (seed % 3 ? 8 : 2) == 0) svc = static_cast<int>(rng() % static_cast<uint64_t>(groups));
        evs.push_back(Ev(ts, StrCat(R"("service":{"name":"svc-)", svc, R"("},"host":{"name":"h-)", rng() % 8 == 0,
                                    R"("})", RunValue(rng))));
      }
      for (auto& x : h) x.Feed(evs);
      if (rng() % 2) {
        ASSERT_TRUE(TickAndCompare(h, 4, t + static_cast<int64_t>(rng() % 20'000), &alerts_seen))
            << "seed " << seed << "\n" << yaml;
      }
      ASSERT_EQ(SavedGroups(h[0].engine->detector("R"), false), SavedGroups(h[1].engine->detector("R"), false))
          << "seed " << seed << " batch " << b << "\n" << yaml;
      ASSERT_EQ(SavedGroups(h[3].engine->detector("R"), false), SavedGroups(h[2].engine->detector("R"), false))
          << "seed " << seed << " batch " << b << "\n" << yaml;
      ASSERT_EQ(SavedGroups(h[0].engine->detector("R")), SavedGroups(h[2].engine->detector("R")))
          << "seed " << seed << " batch " << b << "\n" << yaml;
    }
    ASSERT_TRUE(TickLaterAndCompare(h, 4, t, &alerts_seen, "R")) << "seed " << seed;  // and the metrics
  }
  EXPECT_GT(alerts_seen, 100u);
}

// A sum or avg rule's matches of a chunk handed per group with their values
// (value runs: RuleEngineOptions::chunk_runs, Detector::value_runs) against
// one update per match: the same alerts (values, evidence, samples), metrics
// and saved state byte for byte, with and without SumRun, at the default
// compact limits and at limits that move groups to the exact form within a
// run (3 events a bucket), on streams of chunks in time order (long runs of
// few groups, values whose cells pass 2^24, fractions, negatives, not
// numbers, no field) and chunks out of order (per match). Without
// evictions: which group a full table evicts depends on the order groups
// are applied in, with value runs as with the count and max chunk runs.
TEST(ThresholdCompactTest, ValueRunsSameAsPerMatch) {
  size_t alerts_seen = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    std::mt19937_64 rng(seed * 7919);
    std::string yaml = "rules:\n";
    const int nrules = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < nrules; ++i) {
      StrAppend(&yaml, "  - name: R", i, "\n    type: threshold\n    match: ",
                Pick(rng, {"{service.name: {exists: true}}", "{n: {gt: 100}}", "{host.name: h-0}"}),
                "\n    group_by: ", Pick(rng, {"[service.name]", "[]", "[service.name, host.name]", "[host.name]"}),
                "\n    window: ", Pick(rng, {"1s", "10s", "1m"}), "\n    field: n\n    aggregate: ",
                Pick(rng, {"sum", "avg", "sum", "avg", "max"}), "\n    ", rng() % 2 ? "above: " : "below: ",
                Pick(rng, {"0", "500", "2000", "1.6e7", "3.3e7"}), "\n");
    }
    RuleEngineOptions o{.allowed_lateness_ms = static_cast<int64_t>(rng() % 3) * 2000};
    const bool sum_runs = seed % 3 != 0;
    // [0]: per match, the reference; [1]: value runs; [2]: value runs,
    // groups moving to the exact form after 3 events a bucket; [3]: per
    // match, likewise.
    RulesHarness h[4];
    ASSERT_TRUE(LoadFour(h, yaml, o, {sum_runs, sum_runs, sum_runs, sum_runs}, {false, true, true, false}));
    const int groups = 1 + static_cast<int>(rng() % (seed % 2 ? 3 : 20));
    int64_t t = kT0 + static_cast<int64_t>(rng() % 1000);
    for (int b = 0; b < 20; ++b) {
      std::vector<std::string> evs;
      const int n = 1 + static_cast<int>(rng() % 1200);
      const int64_t step = std::vector<int64_t>{0, 1, 2, 5, 40}[rng() % 5];
      const uint64_t out_of_order = rng() % 4 == 0 ? 3 : 0;  // 0: every chunk in time order
      int svc = 0;
      for (int k = 0; k < n; ++k) {
        const int64_t ts = NextTime(rng, step, out_of_order, &t);
        if (rng() % (seed % 3 ? 16 : 3) == 0) svc = static_cast<int>(rng() % static_cast<uint64_t>(groups));
        evs.push_back(Ev(ts, StrCat(R"("service":{"name":"svc-)", svc, R"("},"host":{"name":"h-)",
                                    rng() % 8 == 0 ? svc % 2 : 0, R"("})", RunValue(rng))));
      }
      for (auto& x : h) x.Feed(evs);
      if (rng() % 2) {
        ASSERT_TRUE(TickAndCompare(h, 4, t + static_cast<int64_t>(rng() % 20'000), &alerts_seen))
            << "seed " << seed << "\n" << yaml;
      }
      for (int i = 0; i < nrules; ++i) {
        const std::string name = StrCat("R", i);
        ASSERT_EQ(SavedGroups(h[0].engine->detector(name), false), SavedGroups(h[1].engine->detector(name), false))
            << name << " seed " << seed << " batch " << b << "\n" << yaml;
        ASSERT_EQ(SavedGroups(h[3].engine->detector(name), false), SavedGroups(h[2].engine->detector(name), false))
            << name << " seed " << seed << " batch " << b << "\n" << yaml;
      }
    }
    for (int i = 0; i < nrules; ++i) {
      ASSERT_TRUE(TickLaterAndCompare(h, 4, t, &alerts_seen, StrCat("R", i))) << "seed " << seed;
    }
  }
  EXPECT_GT(alerts_seen, 100u);
}

// Value runs of a sum whose values are floats (added to the cell by float
// additions, AddValues) against one update per match (as float(double(v) +
// x)): runs of zeros of either sign onto a new cell and onto one that holds
// -0 (the sign of a zero is saved state), cells that pass 2^24 (every
// addition rounds), fractions, overflow to infinity, subnormals, values that
// are not floats among them, and random floats of every magnitude: the same
// saved state, byte for byte.
TEST(ThresholdCompactTest, FloatValueRunsSameAsPerMatch) {
  std::vector<std::vector<std::string>> runs = {
      {"-0", "-0", "-0"}, {"-0", "0"}, {"0", "-0"}, {"-0"}, {"-0", "-0"}, {"16777215", "1"}, {"1", "0"},
      {"3", "16777214"}, {"16777215", "1", "1", "1"}, {"2.5"}, {"1", "2", "3"}, {"7", "-0", "8388608"},
      {"0.5", "0.25", "-0.125"}, {"0.1", "3", "0.2"}, {"1.7014118346046923e38", "1.7014118346046923e38"},
      {"1.4012984643248171e-45", "-1.4012984643248171e-45", "2.8025969286496341e-45"}, {"16777217", "3", "5"}};
  std::mt19937_64 rng(11);
  for (int r = 0; r < 40; ++r) {
    std::vector<std::string> run;
    for (int k = 0, len = 2 + static_cast<int>(rng() % 6); k < len; ++k) {
      // A float of random magnitude, written exactly; now and then a double that is not a float.
      const float f = std::ldexp(static_cast<float>(rng() % (1u << 24)), static_cast<int>(rng() % 60) - 30) *
                      (rng() % 4 == 0 ? -1.0f : 1.0f);
      char text[40];
      std::snprintf(text, sizeof text, "%.17g", rng() % 8 == 0 ? static_cast<double>(f) * (1 + 1e-12) : static_cast<double>(f));
      run.push_back(text);
    }
    runs.push_back(run);
  }
  for (int64_t bucket_of_run : {0, 1}) {  // every run in one bucket, or each in its own
    RulesHarness h[2];
    for (int k = 0; k < 2; ++k) {
      RuleEngineOptions o{.allowed_lateness_ms = 0};
      o.chunk_runs = k == 1;
      ASSERT_TRUE(h[k].Load("rules:\n  - name: R\n    type: threshold\n    match: {service.name: {exists: true}}\n"
                            "    group_by: [service.name]\n    window: 1m\n    field: n\n    aggregate: sum\n"
                            "    above: 1e9\n",
                            o)
                      .ok());
    }
    for (size_t r = 0; r < runs.size(); ++r) {
      std::vector<std::string> evs;
      const int64_t ts = kT0 + bucket_of_run * static_cast<int64_t>(r) * 60'000;
      for (const std::string& v : runs[r]) {
        // 8 groups: a chunk takes runs from 8 matches on (the engine's kChunkRunMinMatches).
        for (int svc = 0; svc < 8; ++svc) evs.push_back(Ev(ts, StrCat(R"("service":{"name":"s)", svc, R"("},"n":)", v)));
      }
      for (auto& x : h) x.Feed(evs);
      ASSERT_EQ(SavedGroups(h[0].engine->detector("R"), false), SavedGroups(h[1].engine->detector("R"), false))
          << "run " << r << " bucket_of_run " << bucket_of_run;
    }
  }
}

}  // namespace
}  // namespace sluice::detectors
