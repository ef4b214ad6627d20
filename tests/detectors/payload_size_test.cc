#include "detectors/payload_size/payload_size.h"

#include <gtest/gtest.h>

#include "detectors/rules_harness.h"

namespace sluice::detectors {
namespace {

using testing::Ev;
using testing::Evidence;
using testing::kT0;
using testing::Label;
using testing::RulesHarness;

// Roughly normal values (sum of 12 uniforms), deterministic.
class Normal {
 public:
  double Next(double mean, double sd) {
    double s = 0;
    for (int i = 0; i < 12; ++i) {
      state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
      s += static_cast<double>(state_ >> 11) / 9007199254740992.0;
    }
    return mean + sd * (s - 6);
  }

 private:
  uint64_t state_ = 42;
};

TEST(RobustStatsTest, TracksMedianAndMadAndIgnoresOutliers) {
  RobustStats st;
  Normal n;
  for (int i = 0; i < 5000; ++i) {
    st.Add(i % 100 == 0 ? 1e6 : n.Next(1000, 50));  // 1% huge outliers
  }
  EXPECT_NEAR(st.median, 1000, 15);
  EXPECT_NEAR(st.mad, 33.7, 15);  // MAD of a normal = 0.674 sd
  EXPECT_LT(st.Limit(5), 1300);
  EXPECT_GT(st.Limit(5), 1100);
}

constexpr char kRule[] = R"yaml(rules:
  - name: BigUpload
    type: payload_size
    match: {event.action: upload}
    group_by: [user.id]
    field: file.size
    factor: 5
    min_samples: 30
    window: 60s
    annotations:
      summary: "{{ $labels.user_id }} uploaded {{ $value }} bytes (usual limit {{ $threshold }})"
)yaml";

TEST(PayloadSizeTest, QuietOnSteadySizesFiresOnOutlierResolvesAfterWindow) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(kRule).ok()) << h.errors.ToString();
  Normal n;
  for (int i = 0; i < 300; ++i) {
    int64_t ts = kT0 + i * 100;
    h.Feed({Ev(ts, StrCat(R"("event":{"action":"upload"},"user":{"id":"u1"},"file":{"size":)",
                          static_cast<int>(n.Next(1000, 50)), "}")),
            Ev(ts, StrCat(R"("event":{"action":"upload"},"user":{"id":"u2"},"file":{"size":)",
                          static_cast<int>(n.Next(100000, 5000)), "}"))});
    h.engine->Tick(ts);
  }
  EXPECT_TRUE(h.sink.alerts().empty());
  // 50 kB is normal for u2, not for u1.
  h.Feed({Ev(kT0 + 30'000, R"("event":{"action":"upload"},"user":{"id":"u1"},"file":{"size":50000},"big":1)")});
  h.engine->Tick(kT0 + 30'000);
  ASSERT_EQ(h.sink.states(), (std::vector<std::string>{"firing"}));
  const Alert a = h.sink.alerts()[0];
  EXPECT_EQ(Label(a, "user_id"), "u1");
  EXPECT_EQ(a.value, 50000);
  EXPECT_GT(a.threshold, 1100);
  EXPECT_LT(a.threshold, 1500);
  EXPECT_NEAR(std::stod(Evidence(a, "median")), 1000, 30);
  ASSERT_EQ(a.samples.size(), 1u);
  EXPECT_NE(a.samples[0].find("\"big\":1"), std::string::npos);
  EXPECT_EQ(a.annotations[0].second.rfind("u1 uploaded 50000 bytes (usual limit ", 0), 0u);
  h.engine->Tick(kT0 + 60'000);
  EXPECT_EQ(h.sink.alerts().size(), 1u);
  h.engine->Tick(kT0 + 91'000);
  EXPECT_EQ(h.sink.states(), (std::vector<std::string>{"firing", "resolved"}));
}

TEST(PayloadSizeTest, NoJudgementBeforeMinSamples) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(kRule).ok());
  for (int i = 0; i < 29; ++i) {
    h.Feed({Ev(kT0 + i, R"("event":{"action":"upload"},"user":{"id":"u1"},"file":{"size":1000})")});
  }
  h.Feed({Ev(kT0 + 100, R"("event":{"action":"upload"},"user":{"id":"u1"},"file":{"size":900000})")});
  h.engine->Tick(kT0 + 100);
  EXPECT_TRUE(h.sink.alerts().empty());
}

TEST(PayloadSizeTest, EventSizeWhenNoField) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(R"(rules:
  - name: BigEvent
    type: payload_size
    match: {service.name: shop-api}
    min_samples: 20
    factor: 4
)").ok()) << h.errors.ToString();
  for (int i = 0; i < 100; ++i) {
    h.Feed({Ev(kT0 + i, StrCat(R"("service":{"name":"shop-api"},"msg":")", std::string(200 + i % 20, 'x'), "\""))});
  }
  h.engine->Tick(kT0 + 100);
  EXPECT_TRUE(h.sink.alerts().empty());
  h.Feed({Ev(kT0 + 200, StrCat(R"("service":{"name":"shop-api"},"msg":")", std::string(5000, 'y'), "\""))});
  h.engine->Tick(kT0 + 200);
  ASSERT_EQ(h.sink.states(), (std::vector<std::string>{"firing"}));
  EXPECT_GT(h.sink.alerts()[0].value, 5000);
  ASSERT_EQ(h.sink.alerts()[0].samples.size(), 1u);
  EXPECT_EQ(h.sink.alerts()[0].samples[0].size(), 512u + 3);  // truncated, with "..."
}

TEST(PayloadSizeTest, GroupsAreCapped) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(kRule, RuleEngineOptions{.allowed_lateness_ms = 0, .max_groups_per_rule = 32}).ok());
  std::vector<std::string> evs;
  for (int i = 0; i < 3000; ++i) {
    evs.push_back(Ev(kT0 + i, StrCat(R"("event":{"action":"upload"},"user":{"id":"u)", i, R"("},"file":{"size":1})")));
  }
  h.Feed(evs);
  EXPECT_LE(h.engine->detector("BigUpload")->groups(), 32u);
  EXPECT_GE(h.Metric("sluice_rule_evictions_total", "BigUpload"), 3000 - 32);
}

}  // namespace
}  // namespace sluice::detectors
