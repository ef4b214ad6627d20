// The sample events an alert carries: each group's last three candidates,
// oldest first, however many one batch proposes, and across batches.

#include <gtest/gtest.h>

#include "detectors/rules_harness.h"

namespace sluice::detectors {
namespace {

using testing::Ev;
using testing::kT0;
using testing::Label;
using testing::RulesHarness;

// A threshold rule proposes the first event of each group's bucket (7.5 s
// here: a window of 60 s): events 8 s apart make one candidate each.
constexpr char kRule[] = R"(rules:
  - name: Errors
    type: threshold
    match: {log.level: ERROR}
    group_by: [service.name]
    window: 60s
    above: 0
)";

std::string Error(const std::string& service, int n) {
  return StrCat(R"("log":{"level":"ERROR"},"service":{"name":")", service, R"("},"n":)", n);
}

// The `n` of each sample of `service`'s alert, in the alert's order.
std::vector<int> SampleNumbers(RulesHarness& h, const std::string& service) {
  std::vector<int> out;
  const std::vector<Alert> alerts = h.sink.alerts();
  for (auto a = alerts.rbegin(); a != alerts.rend(); ++a) {
    if (Label(*a, "service_name") != service) continue;
    for (const std::string& s : a->samples) {
      const size_t at = s.find("\"n\":");
      out.push_back(at == std::string::npos ? -1 : std::atoi(s.c_str() + at + 4));
    }
    break;
  }
  return out;
}

TEST(SamplesTest, LastThreeCandidatesOfEachGroupOldestFirst) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(kRule).ok()) << h.errors.ToString();
  std::vector<std::string> batch;
  for (int k = 0; k < 11; ++k) {  // 11 buckets of mes, 2 of crm, in one batch
    batch.push_back(Ev(kT0 + k * 8'000, Error("mes", k)));
    if (k == 3 || k == 9) batch.push_back(Ev(kT0 + k * 8'000 + 1, Error("crm", 100 + k)));
  }
  h.Feed(batch);
  // The next batches' candidates push the oldest out, one at a time.
  h.Feed({Ev(kT0 + 88'000, Error("mes", 11)), Ev(kT0 + 88'001, Error("crm", 111))});
  for (int k = 0; k < 4; k += 2) {
    h.Feed({Ev(kT0 + k * 8'000, Error("inv", k)), Ev(kT0 + (k + 1) * 8'000, Error("inv", k + 1))});
  }
  h.engine->Tick(kT0 + 90'000);
  EXPECT_EQ(SampleNumbers(h, "mes"), (std::vector<int>{9, 10, 11}));
  EXPECT_EQ(SampleNumbers(h, "crm"), (std::vector<int>{103, 109, 111}));
  EXPECT_EQ(SampleNumbers(h, "inv"), (std::vector<int>{1, 2, 3}));
}

// A sample longer than sample_max_bytes is cut there and marked; a shorter
// one that later takes its place is kept whole, with nothing of the old one.
TEST(SamplesTest, LongEventsAreCutShortOnesKeptWhole) {
  RulesHarness h;
  RuleEngineOptions o{.allowed_lateness_ms = 0};
  o.sample_bytes = 100;
  ASSERT_TRUE(h.Load(kRule, o).ok()) << h.errors.ToString();
  std::vector<std::string> events;
  for (int k = 0; k < 3; ++k) {
    events.push_back(Ev(kT0 + k * 8'000, Error("mes", k) + R"(,"message":")" + std::string(200, 'x') + "\""));
  }
  h.Feed(events);
  const std::vector<std::string> shorter = {Ev(kT0 + 24'000, Error("mes", 3)), Ev(kT0 + 32'000, Error("mes", 4))};
  ASSERT_LT(shorter[0].size(), 100u);
  h.Feed(shorter);
  h.engine->Tick(kT0 + 40'000);
  ASSERT_FALSE(h.sink.alerts().empty());
  EXPECT_EQ(h.sink.alerts().back().samples,
            (std::vector<std::string>{events[2].substr(0, 100) + "...", shorter[0], shorter[1]}));
}

}  // namespace
}  // namespace sluice::detectors
