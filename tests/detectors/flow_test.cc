#include <gtest/gtest.h>
#include <malloc.h>

#include <chrono>
#include <filesystem>

#include "detectors/rules_harness.h"

namespace sluice::detectors {
namespace {

using testing::Ev;
using testing::Evidence;
using testing::kT0;
using testing::Label;
using testing::RulesHarness;

constexpr char kFlowRule[] = R"yaml(rules:
  - name: OrderStuck
    type: flow
    key: order.id
    severity: critical
    stages:
      - name: created
        match: {event.action: order-created}
      - name: published
        match: {event.action: published}
        within: 30s
      - name: stored
        match: {event.action: model-stored}
        within: 1m
      - name: completed
        match: {event.action: calculation-completed}
        within: 5m
    failed:
      - name: calculation_failed
        match: {event.action: calculation-failed}
    retention: 1h
    annotations:
      summary: "order {{ $labels.order_id }}: after {{ $labels.stage }}, no {{ $labels.expected_stage }} for {{ $value }}s"
)yaml";

std::string Stage(int64_t ts, const std::string& order, const std::string& action) {
  return Ev(ts, StrCat(R"("event":{"action":")", action, R"("},"order":{"id":")", order, R"("})"));
}

// Moves stream time to `ts` (an unrelated event sets the watermark) and evaluates.
void At(RulesHarness& h, int64_t ts) {
  h.Feed({Ev(ts, R"("event":{"action":"heartbeat"})")});
  h.engine->Tick(ts);
}

double Outcome(RulesHarness& h, const std::string& outcome) {
  return h.metrics.Value("sluice_flow_outcomes_total", {{"rule", "OrderStuck"}, {"outcome", outcome}});
}

TEST(FlowTest, CompletedOrderRaisesNothing) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(kFlowRule).ok()) << h.errors.ToString();
  h.Feed({Stage(kT0, "A-1", "order-created"), Stage(kT0 + 5'000, "A-1", "published")});
  At(h, kT0 + 10'000);
  h.Feed({Stage(kT0 + 40'000, "A-1", "model-stored"), Stage(kT0 + 100'000, "A-1", "calculation-completed")});
  for (int64_t t = 20'000; t <= 3'000'000; t += 60'000) At(h, kT0 + t);
  EXPECT_TRUE(h.sink.alerts().empty());
  EXPECT_EQ(Outcome(h, "completed"), 1);
  EXPECT_EQ(h.engine->detector("OrderStuck")->groups(), 0u);  // completed orders free their state
  // Latency histogram per stage: published 5 s after created.
  EXPECT_NE(h.metrics.RenderPrometheus().find(
                R"(sluice_flow_stage_latency_seconds_count{rule="OrderStuck",stage="published"} 1)"),
            std::string::npos)
      << h.metrics.RenderPrometheus();
}

TEST(FlowTest, MissedDeadlineFiresNamingOrderLastAndExpectedStage) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(kFlowRule).ok()) << h.errors.ToString();
  h.Feed({Stage(kT0, "A-1", "order-created"), Stage(kT0, "A-2", "order-created"),
          Stage(kT0 + 1'000, "A-2", "published")});
  At(h, kT0 + 30'000);  // A-1's deadline is kT0 + 30 s: not passed yet
  EXPECT_TRUE(h.sink.alerts().empty());
  EXPECT_EQ(h.metrics.Value("sluice_flow_in_flight", {{"rule", "OrderStuck"}, {"stage", "created"}}), 1);
  EXPECT_EQ(h.metrics.Value("sluice_flow_in_flight", {{"rule", "OrderStuck"}, {"stage", "published"}}), 1);
  At(h, kT0 + 31'000);
  ASSERT_EQ(h.sink.states(), (std::vector<std::string>{"firing"}));
  Alert a = h.sink.alerts()[0];
  EXPECT_EQ(Label(a, "alertname"), "OrderStuck");
  EXPECT_EQ(Label(a, "order_id"), "A-1");
  EXPECT_EQ(Label(a, "stage"), "created");
  EXPECT_EQ(Label(a, "expected_stage"), "published");
  EXPECT_EQ(Label(a, "reason"), "missed_deadline");
  EXPECT_EQ(a.value, 31);
  EXPECT_EQ(a.threshold, 30);
  EXPECT_EQ(Evidence(a, "overdue_by"), "1s");
  EXPECT_EQ(a.annotations, (Labels{{"summary", "order A-1: after created, no published for 31s"}}));
  EXPECT_EQ(h.metrics.Value("sluice_flow_missed_deadlines_total", {{"rule", "OrderStuck"}, {"stage", "published"}}),
            1);
  At(h, kT0 + 45'000);
  EXPECT_EQ(h.sink.alerts().size(), 1u);  // still firing, no repeat
  // A-1 arrives late: the alert resolves.
  h.Feed({Stage(kT0 + 50'000, "A-1", "published")});
  At(h, kT0 + 51'000);
  ASSERT_EQ(h.sink.states(), (std::vector<std::string>{"firing", "resolved"}));
  EXPECT_EQ(Label(h.sink.alerts()[1], "order_id"), "A-1");
  // A-2 misses `stored` (published + 1 m) and is given up after retention: lost.
  At(h, kT0 + 62'000);
  ASSERT_EQ(h.sink.alerts().size(), 3u);
  EXPECT_EQ(Label(h.sink.alerts()[2], "order_id"), "A-2");
  EXPECT_EQ(Label(h.sink.alerts()[2], "stage"), "published");
  EXPECT_EQ(Label(h.sink.alerts()[2], "expected_stage"), "stored");
  At(h, kT0 + 61'000 + 3'600'000 + 1'000);
  EXPECT_EQ(Outcome(h, "lost"), 1);
}

TEST(FlowTest, FailedStageFires) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(kFlowRule).ok()) << h.errors.ToString();
  h.Feed({Stage(kT0, "B-7", "order-created"), Stage(kT0 + 1'000, "B-7", "published"),
          Stage(kT0 + 2'000, "B-7", "model-stored"), Stage(kT0 + 3'000, "B-7", "calculation-failed")});
  At(h, kT0 + 4'000);
  ASSERT_EQ(h.sink.states(), (std::vector<std::string>{"firing"}));
  Alert a = h.sink.alerts()[0];
  EXPECT_EQ(Label(a, "order_id"), "B-7");
  EXPECT_EQ(Label(a, "stage"), "calculation_failed");
  EXPECT_EQ(Label(a, "expected_stage"), "completed");
  EXPECT_EQ(Label(a, "reason"), "failed");
  ASSERT_FALSE(a.samples.empty());
  EXPECT_NE(a.samples[0].find("calculation-failed"), std::string::npos);
  EXPECT_EQ(Outcome(h, "failed"), 1);
  // A retry that completes resolves it.
  h.Feed({Stage(kT0 + 60'000, "B-7", "calculation-completed")});
  At(h, kT0 + 61'000);
  EXPECT_EQ(h.sink.states(), (std::vector<std::string>{"firing", "resolved"}));
}

TEST(FlowTest, OutOfOrderStagesKeepTheFurthest) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(kFlowRule).ok()) << h.errors.ToString();
  // `stored` arrives before `created` and `published`: no alert for the
  // published deadline; the order waits for `completed` (stored + 5 m).
  h.Feed({Stage(kT0 + 2'000, "C-3", "model-stored")});
  h.Feed({Stage(kT0, "C-3", "order-created"), Stage(kT0 + 1'000, "C-3", "published")});
  At(h, kT0 + 120'000);
  EXPECT_TRUE(h.sink.alerts().empty());
  EXPECT_EQ(h.metrics.Value("sluice_flow_in_flight", {{"rule", "OrderStuck"}, {"stage", "stored"}}), 1);
  At(h, kT0 + 303'000);
  ASSERT_EQ(h.sink.alerts().size(), 1u);
  EXPECT_EQ(Label(h.sink.alerts()[0], "stage"), "stored");
  EXPECT_EQ(Label(h.sink.alerts()[0], "expected_stage"), "completed");
  // The completion arriving before anything else completes at once; a late
  // `created` for it is absorbed rather than starting a new flow.
  h.Feed({Stage(kT0 + 310'000, "C-4", "calculation-completed"), Stage(kT0 + 309'000, "C-4", "order-created")});
  At(h, kT0 + 400'000);
  EXPECT_EQ(h.sink.alerts().size(), 1u);
}

TEST(FlowTest, ReplayOfOlderEventsIsNotLateButStragglersAre) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(kFlowRule).ok()) << h.errors.ToString();
  h.engine->Tick(kT0 + 3'600'000);  // before any event, stream time is the wall clock
  h.Feed({Stage(kT0, "R-1", "order-created")});  // a replay an hour behind: still tracked
  At(h, kT0 + 10'000);
  EXPECT_EQ(h.engine->detector("OrderStuck")->groups(), 1u);
  // A new order whose first event is older than the last evaluation (and
  // than the newest stage event, minus the lateness): it may have completed
  // already, so it is counted as late and not tracked.
  h.Feed({Stage(kT0 - 5'000, "R-2", "order-created")});
  EXPECT_EQ(h.engine->detector("OrderStuck")->groups(), 1u);
  EXPECT_EQ(h.Metric("sluice_rule_late_events_total", "OrderStuck"), 1);
  At(h, kT0 + 31'000);
  ASSERT_EQ(h.sink.alerts().size(), 1u);
  EXPECT_EQ(Label(h.sink.alerts()[0], "order_id"), "R-1");
}

TEST(FlowTest, EvictsTheOldestAtTheCapAsUnknown) {
  RulesHarness h;
  std::string rule = kFlowRule;
  rule.replace(rule.find("retention: 1h"), 13, "retention: 1h\n    max_flows: 32");
  ASSERT_TRUE(h.Load(rule).ok()) << h.errors.ToString();
  std::vector<std::string> evs;
  for (int i = 0; i < 500; ++i) evs.push_back(Stage(kT0 + i, StrCat("E-", i), "order-created"));
  h.Feed(evs);
  At(h, kT0 + 1'000);
  Detector* d = h.engine->detector("OrderStuck");
  EXPECT_LE(d->groups(), 32u);
  EXPECT_EQ(Outcome(h, "unknown"), 500 - static_cast<double>(d->groups()));
  EXPECT_EQ(h.Metric("sluice_rule_evictions_total", "OrderStuck"), 500 - static_cast<double>(d->groups()));
  EXPECT_EQ(Outcome(h, "lost"), 0);
}

TEST(FlowTest, StateSurvivesRestart) {
  sluice::testing::TempDir data;
  constexpr int kOrders = 20'000;
  size_t in_flight = 0;
  {
    RulesHarness h;
    h.ctx.data_dir = data.path();
    ASSERT_TRUE(h.Load(kFlowRule).ok()) << h.errors.ToString();
    std::vector<std::string> evs;
    const char* actions[] = {"order-created", "published", "model-stored", "calculation-completed"};
    for (int i = 0; i < kOrders; ++i) {
      // Order i reaches stage i % 4 (stage 3 completes it); long keys for some.
      std::string id = i % 10 == 0 ? StrCat("order-with-a-rather-long-identifier-", i) : StrCat("O-", i);
      for (int s = 0; s <= i % 4; ++s) evs.push_back(Stage(kT0 + s * 1000, id, actions[s]));
    }
    h.Feed(evs);
    At(h, kT0 + 10'000);
    in_flight = h.engine->detector("OrderStuck")->groups();
    EXPECT_EQ(in_flight, static_cast<size_t>(kOrders - kOrders / 4));
    h.engine->StopTicking();  // saves, as at shutdown
    EXPECT_TRUE(std::filesystem::exists(data.path() + "/state/detectors.bin"));
    EXPECT_FALSE(std::filesystem::exists(data.path() + "/state/detectors.bin.tmp"));
  }
  RulesHarness h;
  h.ctx.data_dir = data.path();
  ASSERT_TRUE(h.Load(kFlowRule).ok()) << h.errors.ToString();
  EXPECT_EQ(h.engine->detector("OrderStuck")->groups(), in_flight);
  // Every order in flight misses its next deadline after the restart: one alert each, none lost.
  At(h, kT0 + 400'000);
  EXPECT_EQ(h.sink.alerts().size(), 1000u);  // max_alerts
  EXPECT_EQ(h.metrics.Value("sluice_flow_overdue", {{"rule", "OrderStuck"}}), static_cast<double>(in_flight));
  EXPECT_EQ(h.metrics.Value("sluice_flow_missed_deadlines_total", {{"rule", "OrderStuck"}, {"stage", "published"}}) +
                h.metrics.Value("sluice_flow_missed_deadlines_total", {{"rule", "OrderStuck"}, {"stage", "stored"}}) +
                h.metrics.Value("sluice_flow_missed_deadlines_total", {{"rule", "OrderStuck"}, {"stage", "completed"}}),
            static_cast<double>(in_flight));
  bool long_key = false;
  for (const Alert& a : h.sink.alerts()) long_key |= Label(a, "order_id").rfind("order-with-a-rather-long", 0) == 0;
  EXPECT_TRUE(long_key);
  // Orders completing after the restart are recognised by their saved state.
  h.Feed({Stage(kT0 + 401'000, "O-1", "model-stored")});
  At(h, kT0 + 402'000);
  EXPECT_NE(h.metrics.RenderPrometheus().find(
                R"(sluice_flow_stage_latency_seconds_count{rule="OrderStuck",stage="stored"} 1)"),
            std::string::npos);
}

TEST(FlowTest, CorruptStateIsIgnored) {
  RulesHarness h;
  h.ctx.data_dir = h.dir.path();
  std::filesystem::create_directories(h.dir.path() + "/state");
  sluice::testing::WriteFile(h.dir.path() + "/state/flow-OrderStuck.bin", "garbage");
  ASSERT_TRUE(h.Load(kFlowRule).ok()) << h.errors.ToString();
  EXPECT_EQ(h.engine->detector("OrderStuck")->groups(), 0u);
}

TEST(FlowTest, RuleFileErrorsHaveFileAndLine) {
  RulesHarness h;
  EXPECT_FALSE(h.Load(R"yaml(rules:
  - name: Bad
    type: flow
    key: order.id
    stages:
      - name: created
        match: {event.action: order-created}
        colour: blue
      - name: published
        within: 30s
      - name: stored
        match: {event.action: stored}
        within: soon
    failed:
      - name: oops
)yaml")
                   .ok());
  std::string errs = h.errors.ToString();
  const std::string f = h.dir.File("rules.yml");
  EXPECT_NE(errs.find(f + ":8: "), std::string::npos) << errs;  // unknown key colour
  EXPECT_NE(errs.find("colour"), std::string::npos) << errs;
  EXPECT_NE(errs.find(f + ":9: "), std::string::npos) << errs;  // stage without match
  EXPECT_NE(errs.find("match"), std::string::npos) << errs;
  EXPECT_NE(errs.find(f + ":13: "), std::string::npos) << errs;  // bad duration
  EXPECT_NE(errs.find(f + ":15: "), std::string::npos) << errs;  // failed stage without match

  RulesHarness h2;
  EXPECT_FALSE(h2.Load(R"yaml(rules:
  - name: NoKey
    type: flow
    stages:
      - name: a
        match: {x: 1}
      - name: b
        match: {x: 2}
)yaml")
                   .ok());
  EXPECT_NE(h2.errors.ToString().find(":2: rules[0].key: required"), std::string::npos) << h2.errors.ToString();
}

// 1M orders in flight: measures what the state costs per flow, heap included.
TEST(FlowTest, MemoryPerFlow) {
  RulesHarness h;
  std::string rule = kFlowRule;
  rule.replace(rule.find("retention: 1h"), 13, "retention: 1h\n    max_flows: 2000000");
  ASSERT_TRUE(h.Load(rule).ok()) << h.errors.ToString();
  constexpr int kOrders = 1'000'000;
  Detector* d = h.engine->detector("OrderStuck");
  // Heap in use: arena chunks plus mmapped blocks (large tables are mmapped).
  auto heap_now = [] { struct mallinfo2 m = mallinfo2(); return m.uordblks + m.hblkhd; };
  size_t heap_before = heap_now();
  for (int b = 0; b < kOrders; b += 10'000) {
    std::vector<std::string> evs;
    for (int i = b; i < b + 10'000; ++i) {
      evs.push_back(Stage(kT0, StrCat("ORD-2026-", 10'000'000 + i), "order-created"));
    }
    h.Feed(evs);
  }
  size_t heap = heap_now() - heap_before;
  ASSERT_EQ(d->groups(), static_cast<size_t>(kOrders));
  double per_flow = static_cast<double>(heap) / kOrders;
  std::printf("flow state: %zu orders, %.1f bytes/flow (heap), state_bytes %.1f bytes/flow\n", d->groups(), per_flow,
              static_cast<double>(d->state_bytes()) / kOrders);
  EXPECT_LT(per_flow, 200);
  EXPECT_LT(heap, size_t{256} << 20);
  // What a Tick (every flow visited) and a save cost at this size.
  auto t0 = std::chrono::steady_clock::now();
  At(h, kT0 + 1'000);
  auto t1 = std::chrono::steady_clock::now();
  StateWriter saved;
  d->SaveState(saved);
  auto t2 = std::chrono::steady_clock::now();
  std::printf("1M flows: evaluation %.1f ms, serialising the state %.1f ms (%.1f MB)\n",
              std::chrono::duration<double, std::milli>(t1 - t0).count(),
              std::chrono::duration<double, std::milli>(t2 - t1).count(), static_cast<double>(saved.size()) / 1e6);
  EXPECT_TRUE(h.sink.alerts().empty());
}

}  // namespace
}  // namespace sluice::detectors
