// Detector and alert state across a restart (issue 6): each detector's state
// saved and restored gives the same alerts as an engine that never stopped;
// damaged, old-version and changed-rule state starts fresh, counted.
#include <gtest/gtest.h>

#include <filesystem>

#include "detectors/common/state_io.h"
#include "detectors/rules_harness.h"

namespace sluice::detectors {
namespace {

using testing::Ev;
using testing::kT0;
using testing::Label;
using testing::RulesHarness;

// What an alert says, for comparing two engines.
std::vector<std::string> Describe(const std::vector<Alert>& alerts) {
  std::vector<std::string> out;
  for (const Alert& a : alerts) {
    std::string labels;
    for (const auto& [k, v] : a.labels) StrAppend(&labels, k, "=", v, ",");
    out.push_back(StrCat(AlertStateName(a.state), " {", labels, "} value=", a.value, " threshold=", a.threshold,
                         " starts=", a.starts_at_ms));
  }
  return out;
}

struct Step {
  std::vector<std::string> events;
  int64_t tick_ms;
};

// Runs `before` through an engine, saves its state, restores it into a second
// engine, then runs `after` through both (and through a third that never saw
// `before`). The restored engine must emit exactly what the first one does,
// and the third something else (so the state mattered).
void ExpectRestoredEngineMatches(const std::string& rule, const std::vector<Step>& before,
                                 const std::vector<Step>& after) {
  sluice::testing::TempDir data;
  RulesHarness original;
  original.ctx.data_dir = data.path();
  ASSERT_TRUE(original.Load(rule).ok()) << original.errors.ToString();
  for (const Step& s : before) {
    original.Feed(s.events);
    original.engine->Tick(s.tick_ms);
  }
  ASSERT_TRUE(original.engine->SaveState().ok());
  original.sink.Clear();

  RulesHarness restored;
  restored.ctx.data_dir = data.path();
  ASSERT_TRUE(restored.Load(rule).ok()) << restored.errors.ToString();
  EXPECT_EQ(restored.metrics.Value("sluice_rules_state_discarded_total", {{"reason", "damaged"}}), 0);
  RulesHarness fresh;
  ASSERT_TRUE(fresh.Load(rule).ok());

  for (const Step& s : after) {
    for (RulesHarness* h : {&original, &restored, &fresh}) {
      h->Feed(s.events);
      h->engine->Tick(s.tick_ms);
    }
  }
  const auto want = Describe(original.sink.alerts());
  EXPECT_FALSE(want.empty()) << "the scenario must raise an alert after the restart";
  EXPECT_EQ(Describe(restored.sink.alerts()), want);
  EXPECT_NE(Describe(fresh.sink.alerts()), want) << "the scenario must depend on the state before the restart";
}

std::string Error(int64_t ts, const std::string& service) {
  return Ev(ts, StrCat(R"("log":{"level":"ERROR"},"service":{"name":")", service, R"("})"));
}
std::string Other(int64_t ts) { return Ev(ts, R"("log":{"level":"INFO"})"); }

TEST(StateSnapshotTest, ThresholdWindowSpansTheRestart) {
  const char* rule = R"yaml(rules:
  - name: ManyErrors
    type: threshold
    match: {log.level: ERROR}
    group_by: [service.name]
    window: 80s
    above: 5
)yaml";
  // 4 errors before the restart and 2 after, in one 10 s bucket: 6 > 5.
  ExpectRestoredEngineMatches(
      rule, {{{Error(kT0 + 1000, "a"), Error(kT0 + 2000, "a"), Error(kT0 + 3000, "a"), Error(kT0 + 4000, "a")},
              kT0 + 5000}},
      {{{Error(kT0 + 5000, "a"), Error(kT0 + 6000, "a")}, kT0 + 7000}, {{Other(kT0 + 20'000)}, kT0 + 20'000}});
}

TEST(StateSnapshotTest, ThresholdAggregateKeepsItsSums) {
  const char* rule = R"yaml(rules:
  - name: SlowCalls
    type: threshold
    match: {event.action: call}
    field: duration_ms
    aggregate: sum
    window: 80s
    above: 1000
)yaml";
  auto call = [](int64_t ts, int ms) { return Ev(ts, StrCat(R"("event":{"action":"call"},"duration_ms":)", ms)); };
  ExpectRestoredEngineMatches(rule, {{{call(kT0 + 1000, 400), call(kT0 + 2000, 400)}, kT0 + 3000}},
                              {{{call(kT0 + 4000, 300)}, kT0 + 5000}, {{Other(kT0 + 20'000)}, kT0 + 20'000}});
}

TEST(StateSnapshotTest, DuplicateFingerprintSeenBeforeTheRestartStillCounts) {
  const char* rule = R"yaml(rules:
  - name: DuplicateCalculation
    type: duplicate
    match: {event.action: calculation-requested}
    group_by: [service.name]
    fingerprint: [order.id]
    window: 10m
)yaml";
  auto req = [](int64_t ts, const std::string& order) {
    return Ev(ts, StrCat(R"("event":{"action":"calculation-requested"},"service":{"name":"mes"},"order":{"id":")",
                         order, R"("})"));
  };
  ExpectRestoredEngineMatches(rule, {{{req(kT0, "ORD-1"), req(kT0 + 1000, "ORD-2")}, kT0 + 2000}},
                              {{{req(kT0 + 3000, "ORD-1")}, kT0 + 4000}, {{Other(kT0 + 5000)}, kT0 + 5000}});
}

TEST(StateSnapshotTest, FrequencyKeepsItsBaseline) {
  const char* rule = R"yaml(rules:
  - name: WarningSpike
    type: frequency
    match: {log.level: WARN}
    window: 10s
    baseline: 60s
    warmup: 60s
    spike_factor: 3
    min_count: 5
)yaml";
  // A steady 2 warnings per second for 90 s (learned before the restart), then a burst.
  // Ticks come with the newest event: the stream time of an engine that never
  // stopped does not run ahead of the restored one's (which does not count the
  // wall time between the snapshot and the restart: that is downtime).
  std::vector<Step> before;
  for (int64_t t = 0; t < 90'000; t += 5000) {
    std::vector<std::string> evs;
    for (int i = 0; i < 10; ++i) evs.push_back(Ev(kT0 + t + i * 500, R"("log":{"level":"WARN"})"));
    before.push_back({evs, kT0 + t + 4500});
  }
  std::vector<std::string> burst;
  for (int i = 0; i < 200; ++i) burst.push_back(Ev(kT0 + 90'000 + i * 20, R"("log":{"level":"WARN"})"));
  ExpectRestoredEngineMatches(rule, before,
                              {{burst, kT0 + 93'980}, {{Other(kT0 + 101'000)}, kT0 + 101'000}});
}

TEST(StateSnapshotTest, PayloadSizeKeepsItsMedian) {
  const char* rule = R"yaml(rules:
  - name: OversizeModel
    type: payload_size
    match: {event.action: upload}
    field: file.size
    factor: 5
    min_samples: 30
)yaml";
  auto up = [](int64_t ts, int size) { return Ev(ts, StrCat(R"("event":{"action":"upload"},"file":{"size":)", size, "}")); };
  std::vector<std::string> usual;
  for (int i = 0; i < 60; ++i) usual.push_back(up(kT0 + i * 100, 1000 + (i % 7) * 10));
  ExpectRestoredEngineMatches(rule, {{usual, kT0 + 7000}},
                              {{{up(kT0 + 8000, 50'000)}, kT0 + 9000}, {{Other(kT0 + 10'000)}, kT0 + 10'000}});
}

constexpr char kFlowRule[] = R"yaml(rules:
  - name: OrderStuck
    type: flow
    key: order.id
    stages:
      - name: created
        match: {event.action: order-created}
      - name: published
        match: {event.action: published}
        within: 30s
    retention: 1h
)yaml";

TEST(StateSnapshotTest, FlowKeepsOrdersInFlight) {
  const char* rule = kFlowRule;
  auto stage = [](int64_t ts, const std::string& order, const std::string& action) {
    return Ev(ts, StrCat(R"("event":{"action":")", action, R"("},"order":{"id":")", order, R"("})"));
  };
  ExpectRestoredEngineMatches(rule, {{{stage(kT0, "A", "order-created"), stage(kT0, "B", "order-created")}, kT0 + 1000}},
                              {{{stage(kT0 + 10'000, "B", "published")}, kT0 + 11'000},
                               {{Other(kT0 + 40'000)}, kT0 + 40'000}});
}

// A firing alert survives the restart: it is not sent again, and it is
// resolved when its condition stops holding.
TEST(StateSnapshotTest, FiringAlertIsNeitherRepeatedNorForgotten) {
  const char* rule = R"yaml(rules:
  - name: ManyErrors
    type: threshold
    match: {log.level: ERROR}
    window: 80s
    above: 2
)yaml";
  sluice::testing::TempDir data;
  {
    RulesHarness h;
    h.ctx.data_dir = data.path();
    ASSERT_TRUE(h.Load(rule).ok());
    h.Feed({Error(kT0 + 1000, "a"), Error(kT0 + 2000, "a"), Error(kT0 + 3000, "a"), Other(kT0 + 10'000)});
    h.engine->Tick(kT0 + 10'000);
    ASSERT_EQ(h.sink.states(), (std::vector<std::string>{"firing"}));
    // Tick saved the alerts (they changed); the detectors are saved at shutdown.
    EXPECT_TRUE(std::filesystem::exists(data.path() + "/state/alerts.bin"));
    h.engine->StopTicking();
  }
  RulesHarness h;
  h.ctx.data_dir = data.path();
  ASSERT_TRUE(h.Load(rule).ok());
  ASSERT_EQ(h.engine->ActiveAlerts().size(), 1u);
  EXPECT_EQ(h.engine->ActiveAlerts()[0].state, AlertState::kFiring);
  EXPECT_EQ(h.Metric("sluice_rule_alerts_firing", "ManyErrors"), 1);
  h.engine->Tick(kT0 + 11'000);
  EXPECT_TRUE(h.sink.alerts().empty()) << "fired again after the restart";
  h.Feed({Other(kT0 + 200'000)});
  h.engine->Tick(kT0 + 200'000);
  ASSERT_EQ(h.sink.states(), (std::vector<std::string>{"resolved"}));
  EXPECT_EQ(h.sink.alerts()[0].starts_at_ms, kT0 + 10'000);
}

constexpr char kTwoRules[] = R"yaml(rules:
  - name: ErrorsA
    type: threshold
    match: {service.name: a}
    window: 80s
    above: 100
  - name: ErrorsB
    type: threshold
    match: {service.name: b}
    window: 80s
    above: 100
)yaml";

// Saves kTwoRules with one group each; returns the data dir.
void SaveTwoRules(const std::string& data_dir) {
  RulesHarness h;
  h.ctx.data_dir = data_dir;
  ASSERT_TRUE(h.Load(kTwoRules).ok());
  h.Feed({Error(kT0, "a"), Error(kT0, "b")});
  h.engine->Tick(kT0 + 1000);
  ASSERT_TRUE(h.engine->SaveState().ok());
}

// An engine loading `rules` with the state in `data_dir`.
std::unique_ptr<RulesHarness> Restore(const std::string& data_dir, const std::string& rules = kTwoRules,
                                      RuleEngineOptions o = {.allowed_lateness_ms = 0}) {
  auto h = std::make_unique<RulesHarness>();
  h->ctx.data_dir = data_dir;
  EXPECT_TRUE(h->Load(rules, o).ok()) << h->errors.ToString();
  return h;
}

TEST(StateSnapshotTest, ChangedRuleStartsFreshOthersKeepTheirState) {
  sluice::testing::TempDir data;
  SaveTwoRules(data.path());
  std::string changed = kTwoRules;
  changed.replace(changed.rfind("above: 100"), 10, "above: 50");
  auto restored = Restore(data.path(), changed);
  RulesHarness& h = *restored;
  EXPECT_EQ(h.engine->detector("ErrorsA")->groups(), 1u);
  EXPECT_EQ(h.engine->detector("ErrorsB")->groups(), 0u);
  EXPECT_EQ(h.metrics.Value("sluice_rules_state_discarded_total", {{"reason", "changed"}}), 1);
}

TEST(StateSnapshotTest, DamagedSnapshotStartsFreshAndIsCounted) {
  sluice::testing::TempDir data;
  SaveTwoRules(data.path());
  const std::string path = data.path() + "/state/detectors.bin";
  std::string bytes = sluice::testing::ReadFile(path);
  ASSERT_GT(bytes.size(), 40u);
  for (size_t at : {size_t{30}, bytes.size() / 2, bytes.size() - 1}) {
    std::string flipped = bytes;
    flipped[at] ^= 0x20;
    sluice::testing::WriteFile(path, flipped);
    auto h = Restore(data.path());
    EXPECT_EQ(h->engine->detector("ErrorsA")->groups(), 0u) << "flipped byte " << at;
    EXPECT_EQ(h->metrics.Value("sluice_rules_state_discarded_total", {{"reason", "damaged"}}), 2);
    EXPECT_EQ(h->engine->restored_position().below, 0u);
  }
  for (std::string cut : {bytes.substr(0, bytes.size() - 5), bytes.substr(0, 10), std::string()}) {
    sluice::testing::WriteFile(path, cut);
    auto h = Restore(data.path());
    EXPECT_EQ(h->engine->detector("ErrorsA")->groups(), 0u);
    EXPECT_EQ(h->metrics.Value("sluice_rules_state_discarded_total", {{"reason", "damaged"}}), 2);
  }
}

TEST(StateSnapshotTest, OtherVersionStartsFreshAndIsCounted) {
  sluice::testing::TempDir data;
  SaveTwoRules(data.path());
  ASSERT_TRUE(WriteStateFile(data.path() + "/state/detectors.bin", "SLUDETS1", 999, "from the future").ok());
  auto h = Restore(data.path());
  EXPECT_EQ(h->engine->detector("ErrorsA")->groups(), 0u);
  EXPECT_EQ(h->metrics.Value("sluice_rules_state_discarded_total", {{"reason", "version"}}), 2);
}

// A blob whose layout is not this build's (here: another bucket width, as
// after a change of allowed_lateness) is refused, not misread.
TEST(StateSnapshotTest, OtherLayoutStartsFresh) {
  sluice::testing::TempDir data;
  SaveTwoRules(data.path());
  auto h = Restore(data.path(), kTwoRules, {.allowed_lateness_ms = 30'000});
  EXPECT_EQ(h->engine->detector("ErrorsA")->groups(), 0u);
  EXPECT_EQ(h->metrics.Value("sluice_rules_state_discarded_total", {{"reason", "damaged"}}), 2);
}

// A flow-<rule>.bin of earlier versions (the flow blob alone) is read when
// there is no snapshot yet.
TEST(StateSnapshotTest, EarlierFlowStateFileIsRead) {
  const char* rule = kFlowRule;
  sluice::testing::TempDir data;
  StateWriter blob;
  {
    RulesHarness h;
    ASSERT_TRUE(h.Load(rule).ok());
    h.Feed({Ev(kT0, R"("event":{"action":"order-created"},"order":{"id":"A"})")});
    h.engine->detector("OrderStuck")->SaveState(blob);
  }
  std::filesystem::create_directories(data.path() + "/state");
  sluice::testing::WriteFile(data.path() + "/state/flow-OrderStuck.bin", blob.buffer());
  auto h = Restore(data.path(), rule);
  EXPECT_EQ(h->engine->detector("OrderStuck")->groups(), 1u);
}

TEST(StateFileTest, CrcVersionAndMagicAreChecked) {
  sluice::testing::TempDir dir;
  const std::string path = dir.File("sub/state.bin");
  ASSERT_TRUE(WriteStateFile(path, "TESTMAGC", 3, "hello state").ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  auto body = ReadStateFile(path, "TESTMAGC", 3);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, "hello state");
  EXPECT_TRUE(absl::IsFailedPrecondition(ReadStateFile(path, "TESTMAGC", 4).status()));
  EXPECT_TRUE(absl::IsDataLoss(ReadStateFile(path, "OTHERMGC", 3).status()));
  EXPECT_TRUE(absl::IsNotFound(ReadStateFile(dir.File("none.bin"), "TESTMAGC", 3).status()));
  std::string bytes = sluice::testing::ReadFile(path);
  bytes.back() ^= 1;
  sluice::testing::WriteFile(path, bytes);
  EXPECT_TRUE(absl::IsDataLoss(ReadStateFile(path, "TESTMAGC", 3).status()));
}

TEST(StateFileTest, ReaderStopsAtTheEnd) {
  StateWriter w;
  w.U32(7);
  w.Str("abc");
  const size_t mark = w.Begin();
  w.I64(-5);
  w.End(mark);
  StateReader r(w.buffer());
  uint32_t u;
  std::string s;
  StateReader inner{std::string_view()};
  int64_t i;
  ASSERT_TRUE(r.U32(&u) && r.Str(&s) && r.Section(&inner) && inner.I64(&i));
  EXPECT_EQ(u, 7u);
  EXPECT_EQ(s, "abc");
  EXPECT_EQ(i, -5);
  EXPECT_TRUE(r.done());
  EXPECT_FALSE(r.U32(&u));
  EXPECT_FALSE(r.ok());
  StateReader short_str(std::string_view("\xff\x00\x00\x00", 4));
  EXPECT_FALSE(short_str.Str(&s));
}

}  // namespace
}  // namespace sluice::detectors
