// The frequency detector's 16-bit bucket counts and their overflow into a
// 32-bit ring (SetFrequencyNarrowLimitForTest): random rules and streams give
// the same alerts, metrics and saved state whether every group counts in 32
// bits from the start (limit 0: the rings before the narrow ones), moves over
// after 3 events in a bucket, or at 65,535; a saved state with wide groups
// loads back to the same state.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <sstream>

#include "detectors/frequency/frequency.h"
#include "detectors/rules_harness.h"

namespace sluice::detectors {
namespace {

using testing::Ev;
using testing::kT0;
using testing::Pick;
using testing::RulesHarness;
using testing::CopyRuleState;
using testing::SortedAlerts;
using testing::TickAndCompare;
using testing::TickLaterAndCompare;

std::string RandomRule(std::mt19937_64& rng) {
  return StrCat("rules:\n  - name: R\n    type: frequency\n    match: {service.name: {exists: true}}\n",
                "    group_by: ", Pick(rng, {"[service.name]", "[]"}), "\n    window: ", Pick(rng, {"1s", "10s", "1m"}),
                "\n    baseline: ", Pick(rng, {"1m", "5m"}), "\n    warmup: ", Pick(rng, {"0s", "5s"}),
                "\n    spike_factor: 2\n    drop_factor: 0.5\n    min_count: ", rng() % 6, "\n");
}

// The saved groups of each shard, sorted (SaveGroups writes them in table order).
std::vector<std::string> SavedGroups(Detector* d) {
  StateWriter w;
  d->SaveState(w);
  const std::string& b = w.buffer();
  size_t p = 8 + 4;  // bucket width, shard count
  auto u32 = [&] {
    uint32_t v;
    std::memcpy(&v, b.data() + p, 4);
    p += 4;
    return v;
  };
  std::vector<std::string> out;
  while (p < b.size()) {
    uint64_t n;
    std::memcpy(&n, b.data() + p, 8);
    p += 8;
    std::vector<std::string> shard;
    for (uint64_t i = 0; i < n; ++i) {
      const size_t start = p;
      p += 8;          // key
      p += u32();      // the ring
      p += 3 * 8 + 3 * 4;
      p += u32();      // labels
      shard.push_back(b.substr(start, p - start));
    }
    std::sort(shard.begin(), shard.end());
    out.insert(out.end(), shard.begin(), shard.end());
    out.push_back("--");
  }
  return out;
}

struct Limit {
  explicit Limit(uint32_t l) { SetFrequencyNarrowLimitForTest(l); }
  ~Limit() { SetFrequencyNarrowLimitForTest(0xFFFF); }
};

TEST(FrequencyNarrowTest, SameResultsWhateverTheLimit) {
  size_t alerts_seen = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    std::mt19937_64 rng(seed);
    const std::string yaml = RandomRule(rng);
    RuleEngineOptions o{.allowed_lateness_ms = static_cast<int64_t>(rng() % 3) * 2000,
                        .max_groups_per_rule = seed % 4 == 0 ? kShards : 100'000u,  // evictions (1 per shard)
                        .merge_updates = seed % 3 != 0};
    const uint32_t limits[] = {0, 3, 0xFFFF};
    RulesHarness h[3];
    for (int k = 0; k < 3; ++k) {
      Limit l(limits[k]);
      ASSERT_TRUE(h[k].Load(yaml, o).ok()) << h[k].errors.ToString() << yaml;
    }
    int64_t t = kT0;
    for (int b = 0; b < 25; ++b) {
      std::vector<std::string> evs;
      const int n = 1 + static_cast<int>(rng() % 600);
      const int64_t step = std::vector<int64_t>{0, 5, 200}[rng() % 3];
      for (int k = 0; k < n; ++k) {
        t += static_cast<int64_t>(rng() % static_cast<uint64_t>(step + 1));
        int64_t ts = t;
        const uint64_t r = rng() % 100;
        if (r < 5) ts -= static_cast<int64_t>(rng() % 3000);  // out of order
        if (r == 5) ts -= 20 * 60'000;                        // late
        evs.push_back(Ev(ts, StrCat(R"("service":{"name":"svc-)", rng() % 6, R"("})")));
      }
      for (auto& x : h) x.Feed(evs);
      if (rng() % 2) {
        ASSERT_TRUE(TickAndCompare(h, 3, t + static_cast<int64_t>(rng() % 20'000), &alerts_seen)) << "seed " << seed;
      }
      const std::vector<std::string> s0 = SavedGroups(h[0].engine->detector("R"));
      for (int k = 1; k < 3; ++k) {
        ASSERT_EQ(s0, SavedGroups(h[k].engine->detector("R"))) << "limit " << limits[k] << " seed " << seed;
      }
    }
    // The saved state of the limit-3 engine, loaded into a fresh one, saves the same.
    {
      Limit l(3);
      RulesHarness loaded;
      ASSERT_TRUE(loaded.Load(yaml, o).ok());
      ASSERT_TRUE(CopyRuleState(h[1], loaded, "R"));
      EXPECT_EQ(SavedGroups(loaded.engine->detector("R")), SavedGroups(h[1].engine->detector("R")));
    }
    ASSERT_TRUE(TickLaterAndCompare(h, 3, t, &alerts_seen, "R")) << "seed " << seed;
  }
  EXPECT_GT(alerts_seen, 50u);
}

// Past 65,535 events in one bucket at the default limit: the count is exact
// (in the saved ring), and alerts and state are those of 32-bit counts.
TEST(FrequencyNarrowTest, BucketOverSixteenBitsCountsExactly) {
  constexpr char kRule[] = R"(rules:
  - name: R
    type: frequency
    match: {service.name: {exists: true}}
    group_by: [service.name]
    window: 10s
    baseline: 1m
    warmup: 0s
    spike_factor: 2
    drop_factor: 0.5
)";
  RulesHarness narrow, wide;
  ASSERT_TRUE(narrow.Load(kRule).ok()) << narrow.errors.ToString();
  {
    Limit l(0);
    ASSERT_TRUE(wide.Load(kRule).ok());
  }
  std::vector<std::string> at_storm;
  for (RulesHarness* h : {&narrow, &wide}) {
    for (int s = 0; s < 60; ++s) {  // a steady rate, then a storm of 70,000 in one second
      h->FeedSpread(s == 40 ? 70'000 : 10, kT0 + s * 1000, 1000, R"("service":{"name":"storm"})");
      h->engine->Tick(kT0 + s * 1000 + 999);
      if (h == &narrow && s == 40) at_storm = SavedGroups(h->engine->detector("R"));
    }
  }
  const std::vector<std::string> alerts = SortedAlerts(narrow.sink);
  ASSERT_FALSE(alerts.empty());
  EXPECT_TRUE(std::any_of(alerts.begin(), alerts.end(), [](const std::string& a) {
    return a.find(" value=70") != std::string::npos;  // 70,000 and the steady events in the window
  })) << alerts.size();
  EXPECT_EQ(alerts, SortedAlerts(wide.sink));
  const std::vector<std::string> saved = SavedGroups(narrow.engine->detector("R"));
  EXPECT_EQ(saved, SavedGroups(wide.engine->detector("R")));
  // The storm's bucket, as saved: at least its 70,000 events.
  ASSERT_EQ(at_storm.size(), 1 + kShards);  // one group, and every shard's end ("--")
  ASSERT_EQ(std::count(at_storm.begin(), at_storm.end(), "--"), static_cast<ptrdiff_t>(kShards));
  const std::string& group =
      *std::find_if(at_storm.begin(), at_storm.end(), [](const std::string& x) { return x != "--"; });
  uint32_t most = 0;
  for (size_t i = 0; i < 12; ++i) {
    uint32_t c;
    std::memcpy(&c, group.data() + 8 + 4 + 8 + 4 * i, 4);
    most = std::max(most, c);
  }
  EXPECT_GE(most, 70'000u);
  // And through a save and a load.
  RulesHarness loaded;
  ASSERT_TRUE(loaded.Load(kRule).ok());
  ASSERT_TRUE(CopyRuleState(narrow, loaded, "R"));
  EXPECT_EQ(SavedGroups(loaded.engine->detector("R")), saved);
}

}  // namespace
}  // namespace sluice::detectors
