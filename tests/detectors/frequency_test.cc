#include <gtest/gtest.h>

#include "detectors/rules_harness.h"

namespace sluice::detectors {
namespace {

using testing::Ev;
using testing::Evidence;
using testing::kT0;
using testing::Label;
using testing::RulesHarness;

constexpr char kRule[] = R"(rules:
  - name: RateChange
    type: frequency
    match: {log.level: [WARN, ERROR]}
    group_by: [service.name]
    window: 10s
    baseline: 60s
    spike_factor: 3
    drop_factor: 0.3
    min_count: 5
    warmup: 60s
)";

constexpr char kWarn[] = R"("log":{"level":"WARN"},"service":{"name":"mes-core"})";

// `per_s` events a second over [from_s, to_s), ticking once a second.
void Traffic(RulesHarness& h, int from_s, int to_s, int per_s) {
  for (int s = from_s; s < to_s; ++s) {
    if (per_s > 0) h.FeedSpread(per_s, kT0 + s * 1000, 1000, kWarn);
    h.engine->Tick(kT0 + s * 1000 + 999);
  }
}

TEST(FrequencyTest, QuietOnSteadyTraffic) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(kRule).ok()) << h.errors.ToString();
  Traffic(h, 0, 600, 2);
  EXPECT_TRUE(h.sink.alerts().empty());
}

TEST(FrequencyTest, SpikeFiresAndResolvesThenSilenceFiresDrop) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(kRule).ok()) << h.errors.ToString();
  Traffic(h, 0, 120, 2);
  ASSERT_TRUE(h.sink.alerts().empty());
  Traffic(h, 120, 130, 20);  // a burst: 10x the usual rate
  ASSERT_EQ(h.sink.states(), (std::vector<std::string>{"firing"}));
  Alert spike = h.sink.alerts()[0];
  EXPECT_EQ(Label(spike, "service_name"), "mes-core");
  EXPECT_EQ(Evidence(spike, "kind"), "spike");
  EXPECT_GT(spike.value, 3 * 20);
  EXPECT_NEAR(std::stod(Evidence(spike, "baseline")), 20, 3);
  EXPECT_FALSE(spike.samples.empty());
  Traffic(h, 130, 200, 2);  // back to normal
  ASSERT_EQ(h.sink.states(), (std::vector<std::string>{"firing", "resolved"}));
  Traffic(h, 200, 230, 0);  // the component goes completely silent
  ASSERT_EQ(h.sink.states(), (std::vector<std::string>{"firing", "resolved", "firing"}));
  Alert drop = h.sink.alerts()[2];
  EXPECT_EQ(Evidence(drop, "kind"), "drop");
  EXPECT_LT(drop.value, drop.threshold);  // still falling: fires as soon as it is below 0.3 x baseline
  // Long silence: the baseline decays below min_count, the alert resolves, the group is forgotten.
  Traffic(h, 230, 900, 0);
  EXPECT_EQ(h.sink.states().back(), "resolved");
  EXPECT_EQ(h.engine->detector("RateChange")->groups(), 0u);
}

TEST(FrequencyTest, NoAlertsDuringWarmup) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(kRule).ok());
  Traffic(h, 0, 20, 2);
  Traffic(h, 20, 30, 50);  // a burst before the group's baseline is learned
  Traffic(h, 30, 40, 0);
  EXPECT_TRUE(h.sink.alerts().empty());
}

TEST(FrequencyTest, LateEventsWithinLatenessCount) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(kRule, RuleEngineOptions{.allowed_lateness_ms = 5'000}).ok());
  for (int s = 0; s < 120; ++s) {
    // Each second's events arrive 3s late, out of order.
    std::vector<std::string> evs = {Ev(kT0 + s * 1000 + 500, kWarn), Ev(kT0 + (s - 3) * 1000, kWarn)};
    h.Feed(evs);
    h.engine->Tick(kT0 + s * 1000 + 999);
  }
  EXPECT_TRUE(h.sink.alerts().empty());
  EXPECT_EQ(h.Metric("sluice_rule_late_events_total", "RateChange"), 0);
  EXPECT_EQ(h.Metric("sluice_rule_events_matched_total", "RateChange"), 240);
}

TEST(FrequencyTest, GroupsAreCapped) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(kRule, RuleEngineOptions{.allowed_lateness_ms = 0, .max_groups_per_rule = 32}).ok());
  std::vector<std::string> evs;
  for (int i = 0; i < 2000; ++i) {
    evs.push_back(Ev(kT0 + i, StrCat(R"("log":{"level":"WARN"},"service":{"name":"s)", i, "\"}")));
  }
  h.Feed(evs);
  EXPECT_LE(h.engine->detector("RateChange")->groups(), 32u);
  EXPECT_GE(h.Metric("sluice_rule_evictions_total", "RateChange"), 2000 - 32);
}

}  // namespace
}  // namespace sluice::detectors
