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
  - name: RepeatedCalculation
    type: duplicate
    match: {event.action: calculation-requested}
    group_by: [service.name]
    fingerprint: [model.sha256, calc.params]
    window: 10m
    max_repeats: 1
    annotations:
      summary: "{{ $labels.service_name }} calculated the same model {{ $value }} times"
)";

std::string Req(const std::string& service, const std::string& sha, const std::string& params = "q=1") {
  return StrCat(R"("event":{"action":"calculation-requested"},"service":{"name":")", service,
                R"("},"model":{"sha256":")", sha, R"("},"calc":{"params":")", params, "\"}");
}

TEST(DuplicateTest, FiresOnRepeatsCountsWasteAndResolves) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(kRule).ok()) << h.errors.ToString();
  h.Feed({Ev(kT0, Req("mes", "A")), Ev(kT0 + 1000, Req("mes", "A")),  // the first is still calculating
          Ev(kT0 + 2000, Req("mes", "A")), Ev(kT0, Req("mes", "B")), Ev(kT0 + 3000, Req("mes", "B", "q=2")),
          Ev(kT0 + 4000, Req("mes", "D")), Ev(kT0 + 4500, Req("mes", "D")), Ev(kT0 + 5000, Req("crm", "C")),
          Ev(kT0 + 5000, Req("crm", "C"))});
  h.engine->Tick(kT0 + 5000);
  auto alerts = h.sink.alerts();
  ASSERT_EQ(alerts.size(), 2u);
  std::sort(alerts.begin(), alerts.end(), [](const Alert& a, const Alert& b) { return a.labels < b.labels; });
  const Alert& crm = alerts[0];
  const Alert& mes = alerts[1];
  EXPECT_EQ(Label(mes, "service_name"), "mes");
  EXPECT_EQ(mes.state, AlertState::kFiring);
  EXPECT_EQ(mes.value, 3);  // A was requested 3 times
  EXPECT_EQ(mes.threshold, 1);
  EXPECT_EQ(Evidence(mes, "wasted_calculations"), "3");  // 2 for A, 1 for D; B's params differ
  EXPECT_EQ(Evidence(mes, "fingerprints"), "2");
  EXPECT_EQ(mes.annotations, (Labels{{"summary", "mes calculated the same model 3 times"}}));
  EXPECT_FALSE(mes.samples.empty());
  EXPECT_EQ(Label(crm, "service_name"), "crm");
  EXPECT_EQ(Evidence(crm, "wasted_calculations"), "1");
  h.engine->Tick(kT0 + 5000 + 10 * 60'000 + 1);
  EXPECT_EQ(h.sink.states(), (std::vector<std::string>{"firing", "firing", "resolved", "resolved"}));
  EXPECT_EQ(h.engine->detector("RepeatedCalculation")->groups(), 0u);
}

TEST(DuplicateTest, QuietWhenEveryRequestIsDifferentOrOutsideTheWindow) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(kRule).ok());
  for (int i = 0; i < 500; ++i) {
    h.Feed({Ev(kT0 + i * 1000, Req("mes", StrCat("sha-", i)))});
    h.engine->Tick(kT0 + i * 1000);
  }
  // The same model again, but 11 minutes after its first request.
  h.Feed({Ev(kT0 + 660'000, Req("mes", "sha-0"))});
  h.engine->Tick(kT0 + 660'000);
  EXPECT_TRUE(h.sink.alerts().empty());
}

TEST(DuplicateTest, OutOfOrderRepeatsCount) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(kRule).ok());
  h.Feed({Ev(kT0 + 30'000, Req("mes", "E"))});
  h.Feed({Ev(kT0 + 10'000, Req("mes", "E"))});  // older, arriving later
  h.Feed({Ev(kT0 - 3'600'000, Req("mes", "E"))});  // an hour older: late, not counted
  h.engine->Tick(kT0 + 30'000);
  ASSERT_EQ(h.sink.states(), (std::vector<std::string>{"firing"}));
  EXPECT_EQ(h.sink.alerts()[0].value, 2);
  EXPECT_EQ(h.Metric("sluice_rule_late_events_total", "RepeatedCalculation"), 1);
}

TEST(DuplicateTest, FingerprintsAreCapped) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(kRule, RuleEngineOptions{.allowed_lateness_ms = 0, .max_groups_per_rule = 64}).ok());
  std::vector<std::string> evs;
  for (int i = 0; i < 10'000; ++i) evs.push_back(Ev(kT0 + i, Req("mes", StrCat("sha-", i))));
  h.Feed(evs);
  EXPECT_LE(h.engine->detector("RepeatedCalculation")->groups(), 64u);
  EXPECT_GE(h.Metric("sluice_rule_evictions_total", "RepeatedCalculation"), 10'000 - 64);
}

}  // namespace
}  // namespace sluice::detectors
