#include <gtest/gtest.h>

#include "detectors/rules_harness.h"

namespace sluice::detectors {
namespace {

using testing::Ev;
using testing::kT0;
using testing::Label;
using testing::RulesHarness;

constexpr char kErrorsRule[] = R"yaml(rules:
  - name: ManyErrors
    type: threshold
    match: {log.level: ERROR}
    group_by: [service.name]
    window: 60s
    above: 5
    for: 20s
    severity: critical
    labels: {team: mes}
    annotations:
      summary: "{{ $labels.service_name }}: {{ $value }} errors in 1m (threshold {{ $threshold }})"
)yaml";

TEST(ThresholdTest, PendingThenFiringThenResolved) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(kErrorsRule).ok()) << h.errors.ToString();
  h.FeedSpread(10, kT0, 9'000, R"("log":{"level":"ERROR"},"service":{"name":"mes-api"})");
  h.FeedSpread(3, kT0, 9'000, R"("log":{"level":"ERROR"},"service":{"name":"crm"})");     // below the threshold
  h.FeedSpread(50, kT0, 9'000, R"("log":{"level":"INFO"},"service":{"name":"shop"})");   // does not match
  h.engine->Tick(kT0 + 9'000);  // stream time 8.82s (the newest event): bucket [0, 7.5s) is closed and holds 9
  ASSERT_EQ(h.sink.states(), (std::vector<std::string>{"pending"}));
  EXPECT_EQ(h.sink.alerts()[0].active_at_ms, kT0 + 8'820);
  h.engine->Tick(kT0 + 20'000);  // held 11s < for: 20s
  EXPECT_EQ(h.sink.alerts().size(), 1u);
  h.engine->Tick(kT0 + 30'000);
  ASSERT_EQ(h.sink.states(), (std::vector<std::string>{"pending", "firing"}));
  const Alert a = h.sink.alerts()[1];
  EXPECT_EQ(a.labels, (Labels{{"alertname", "ManyErrors"}, {"service_name", "mes-api"}, {"severity", "critical"},
                              {"team", "mes"}}));
  EXPECT_EQ(a.value, 10);
  EXPECT_EQ(a.threshold, 5);
  EXPECT_EQ(a.annotations, (Labels{{"summary", "mes-api: 10 errors in 1m (threshold 5)"}}));
  EXPECT_EQ(a.starts_at_ms, kT0 + 29'820);  // stream time: newest event (of any kind) + wall time since
  EXPECT_EQ(a.rule_file, h.dir.File("rules.yml"));
  EXPECT_EQ(a.rule_line, 2);
  EXPECT_EQ(a.rule_hash.size(), 16u);
  ASSERT_FALSE(a.samples.empty());
  EXPECT_NE(a.samples[0].find("mes-api"), std::string::npos);
  EXPECT_EQ(h.engine->ActiveAlerts().size(), 1u);
  EXPECT_EQ(h.Metric("sluice_rule_alerts_firing", "ManyErrors"), 1);
  EXPECT_EQ(h.Metric("sluice_rule_events_matched_total", "ManyErrors"), 13);
  h.engine->Tick(kT0 + 80'000);  // the errors left the window
  ASSERT_EQ(h.sink.states(), (std::vector<std::string>{"pending", "firing", "resolved"}));
  EXPECT_EQ(h.sink.alerts()[2].ends_at_ms, kT0 + 79'820);
  EXPECT_TRUE(h.engine->ActiveAlerts().empty());
  EXPECT_EQ(h.Metric("sluice_rule_alerts_firing", "ManyErrors"), 0);
}

TEST(ThresholdTest, QuietOnSteadyTraffic) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(kErrorsRule).ok());
  for (int s = 0; s < 600; s += 10) {  // 2 errors a minute, steadily: never above 5
    h.FeedSpread(1, kT0 + s * 1000, 10'000, s % 15 == 0 ? R"("log":{"level":"ERROR"},"service":{"name":"mes-api"})"
                                                         : R"("log":{"level":"INFO"},"service":{"name":"mes-api"})");
    h.engine->Tick(kT0 + s * 1000);
  }
  EXPECT_TRUE(h.sink.alerts().empty());
  EXPECT_EQ(h.Metric("sluice_rule_events_matched_total", "ManyErrors"), 20);
}

TEST(ThresholdTest, BelowNoticesASilentStream) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(R"(rules:
  - name: NoOrders
    type: threshold
    match: {event.action: order-created}
    window: 30s
    below: 1
)").ok());
  h.engine->Tick(kT0);  // nothing ever arrives
  h.engine->Tick(kT0 + 20'000);
  EXPECT_TRUE(h.sink.alerts().empty());  // a whole window has not passed yet
  h.engine->Tick(kT0 + 45'000);
  ASSERT_EQ(h.sink.states(), (std::vector<std::string>{"firing"}));
  EXPECT_EQ(h.sink.alerts()[0].value, 0);
  EXPECT_EQ(h.sink.alerts()[0].labels, (Labels{{"alertname", "NoOrders"}, {"severity", "warning"}}));
  h.Feed({Ev(kT0 + 46'000, R"("event":{"action":"order-created"})")});
  h.engine->Tick(kT0 + 46'000);
  h.engine->Tick(kT0 + 60'000);
  ASSERT_EQ(h.sink.states(), (std::vector<std::string>{"firing", "resolved"}));
  // The stream stops: the wall clock closes the windows.
  h.engine->Tick(kT0 + 120'000);
  EXPECT_EQ(h.sink.states(), (std::vector<std::string>{"firing", "resolved", "firing"}));
}

TEST(ThresholdTest, BelowPerGroupNoticesASilentComponent) {
  RulesHarness g;
  ASSERT_TRUE(g.Load(R"(rules:
  - name: ComponentSilent
    type: threshold
    match: {service.name: {exists: true}}
    group_by: [service.name]
    window: 60s
    below: 1
)").ok()) << g.errors.ToString();
  for (int s = 0; s < 120; s += 5) {
    g.Feed({Ev(kT0 + s * 1000, R"("service":{"name":"mes"})"), Ev(kT0 + s * 1000, R"("service":{"name":"crm"})")});
    g.engine->Tick(kT0 + s * 1000);
  }
  EXPECT_TRUE(g.sink.alerts().empty());
  for (int s = 120; s < 300; s += 5) {  // mes goes silent
    g.Feed({Ev(kT0 + s * 1000, R"("service":{"name":"crm"})")});
    g.engine->Tick(kT0 + s * 1000);
  }
  ASSERT_EQ(g.sink.states(), (std::vector<std::string>{"firing"}));
  EXPECT_EQ(Label(g.sink.alerts()[0], "service_name"), "mes");
}

TEST(ThresholdTest, LateAndOutOfOrderEvents) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(R"(rules:
  - name: Errors
    type: threshold
    match: {log.level: ERROR}
    window: 60s
    above: 3
)", RuleEngineOptions{.allowed_lateness_ms = 10'000}).ok());
  h.Feed({Ev(kT0 + 20'000, R"("log":{"level":"ERROR"})")});
  h.engine->Tick(kT0 + 20'000);
  // Out of order, and late but within the allowed lateness: counted.
  h.Feed({Ev(kT0 + 12'000, R"("log":{"level":"ERROR"})"), Ev(kT0 + 15'000, R"("log":{"level":"ERROR"})"),
          Ev(kT0 + 11'000, R"("log":{"level":"ERROR"})")});
  // Far too old for any window the ring still holds: counted as late, dropped.
  h.Feed({Ev(kT0 - 600'000, R"("log":{"level":"ERROR"})")});
  EXPECT_EQ(h.Metric("sluice_rule_late_events_total", "Errors"), 1);
  h.engine->Tick(kT0 + 22'000);
  EXPECT_TRUE(h.sink.alerts().empty());  // evaluated at 12s: the 15s and 20s events are not in a closed bucket
  h.engine->Tick(kT0 + 40'000);
  ASSERT_EQ(h.sink.states(), (std::vector<std::string>{"firing"}));
  EXPECT_EQ(h.sink.alerts()[0].value, 4);
}

TEST(ThresholdTest, FieldAggregates) {
  for (auto [agg, want] : std::vector<std::pair<std::string, double>>{{"sum", 1530}, {"max", 1500}, {"avg", 510}}) {
    RulesHarness h;
    ASSERT_TRUE(h.Load(StrCat(R"(rules:
  - name: Slow
    type: threshold
    match: {event.action: calculate}
    field: event.duration_ms
    aggregate: )", agg, R"(
    window: 60s
    above: 100
)")).ok()) << h.errors.ToString();
    h.Feed({Ev(kT0 + 1000, R"("event":{"action":"calculate","duration_ms":10})"),
            Ev(kT0 + 2000, R"("event":{"action":"calculate","duration_ms":"20"})"),
            Ev(kT0 + 3000, R"("event":{"action":"calculate","duration_ms":1500})"),
            Ev(kT0 + 4000, R"("event":{"action":"calculate","duration_ms":"n/a"})"),  // no number: skipped
            Ev(kT0 + 4000, R"("event":{"action":"calculate"})")});
    h.engine->Tick(kT0 + 4000);
    h.engine->Tick(kT0 + 10'000);
    ASSERT_EQ(h.sink.states(), (std::vector<std::string>{"firing"})) << agg;
    EXPECT_EQ(h.sink.alerts()[0].value, want) << agg;
  }
}

TEST(ThresholdTest, GroupsAreCappedAndEvictionsCounted) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(kErrorsRule, RuleEngineOptions{.allowed_lateness_ms = 0, .max_groups_per_rule = 64}).ok());
  std::vector<std::string> evs;
  for (int i = 0; i < 5000; ++i) {
    evs.push_back(Ev(kT0 + i, StrCat(R"("log":{"level":"ERROR"},"service":{"name":"svc-)", i, "\"}")));
  }
  h.Feed(evs);
  Detector* d = h.engine->detector("ManyErrors");
  ASSERT_NE(d, nullptr);
  EXPECT_LE(d->groups(), 64u);
  EXPECT_GE(d->groups(), 32u);
  EXPECT_GE(h.Metric("sluice_rule_evictions_total", "ManyErrors"), 5000 - 64);
  h.engine->Tick(kT0 + 5000);
  EXPECT_EQ(h.Metric("sluice_rule_groups", "ManyErrors"), static_cast<double>(d->groups()));
  // Bytes per tracked group, table overhead included.
  EXPECT_LE(h.Metric("sluice_rule_state_bytes", "ManyErrors") / 64, 256);
}

}  // namespace
}  // namespace sluice::detectors
