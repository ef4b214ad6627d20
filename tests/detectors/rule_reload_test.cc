// Live reload of the rule set: state kept for unchanged rules, a broken set
// never replaces a working one, and a reload while batches flow loses nothing.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "detectors/rules_harness.h"
#include "pipeline/app.h"
#include "pipeline/capture_sink.h"
#include "pipeline/dead_letter.h"
#include "pipeline/pipeline.h"

namespace sluice::detectors {
namespace {

using testing::Ev;
using testing::kT0;
using testing::RulesHarness;

constexpr char kFatal[] = R"(  - name: Fatal
    type: threshold
    match: {log.level: FATAL}
    group_by: [service.name]
    window: 60s
    above: 0
)";
constexpr char kGone[] = R"(  - name: Gone
    type: threshold
    match: {log.level: ERROR}
    window: 60s
    above: 0
)";
constexpr char kSlow[] = R"(  - name: Slow
    type: threshold
    match: {log.level: INFO}
    field: event.duration_ms
    aggregate: max
    window: 60s
    above: 100
)";

int Count(const std::vector<Alert>& alerts, const std::string& rule, AlertState state) {
  int n = 0;
  for (const Alert& a : alerts) n += a.rule_name == rule && a.state == state;
  return n;
}

// A second engine over the same registries, loaded from `yaml`, as App::ReloadRules builds it.
std::shared_ptr<RuleEngine> LoadNext(RulesHarness& h, const RuleEngine& running, const std::string& yaml) {
  sluice::testing::WriteFile(h.dir.File("rules.yml"), yaml);
  auto next = std::make_shared<RuleEngine>(running.options());
  ConfigErrors errors;
  EXPECT_TRUE(next->Load({"rules.yml"}, h.ctx, &errors).ok()) << errors.ToString();
  return next;
}

TEST(RuleReloadTest, UnchangedRuleKeepsItsFiringAlertAndNewRuleFires) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(StrCat("rules:\n", kFatal, kGone)).ok()) << h.errors.ToString();
  h.Feed({Ev(kT0, R"("log":{"level":"FATAL"},"service":{"name":"mes"})"),
          Ev(kT0, R"("log":{"level":"ERROR"})")});
  h.engine->Tick(kT0 + 1);
  h.engine->Tick(kT0 + 10'000);
  ASSERT_EQ(Count(h.sink.alerts(), "Fatal", AlertState::kFiring), 1);
  ASSERT_EQ(Count(h.sink.alerts(), "Gone", AlertState::kFiring), 1);
  const size_t fields_before = h.fields.size();
  Detector* fatal_detector = h.engine->detector("Fatal");

  // Fatal unchanged, Gone removed, Slow added (it reads a field nobody extracted yet).
  auto next = LoadNext(h, *h.engine, StrCat("rules:\n", kFatal, kSlow));
  EXPECT_GT(h.fields.size(), fields_before);
  auto sum = next->TakeOver(*h.engine);
  EXPECT_EQ(sum.kept, 1u);
  EXPECT_EQ(sum.added, 1u);
  EXPECT_EQ(sum.removed, 1u);
  EXPECT_EQ(sum.resolved_alerts, 1u);
  EXPECT_EQ(next->detector("Fatal"), fatal_detector);  // the very same state
  // The removed rule's alert is resolved through the (inherited) sinks.
  EXPECT_EQ(Count(h.sink.alerts(), "Gone", AlertState::kResolved), 1);
  EXPECT_EQ(h.Metric("sluice_rule_alerts_firing", "Gone"), 0);
  next->Tick(kT0 + 11'000);
  h.sink.Clear();
  auto b = h.MakeBatch({Ev(kT0 + 11'000, R"("log":{"level":"INFO"},"event":{"duration_ms":250})"),
                        Ev(kT0 + 11'000, R"("log":{"level":"FATAL"},"service":{"name":"mes"})")});
  next->Observe(*b);
  next->Tick(kT0 + 11'001);
  next->Tick(kT0 + 25'000);
  auto alerts = h.sink.alerts();
  // Still firing, never emitted again; the new rule fires on the new field.
  EXPECT_EQ(Count(alerts, "Fatal", AlertState::kFiring), 0);
  EXPECT_EQ(Count(alerts, "Fatal", AlertState::kResolved), 0);
  ASSERT_EQ(Count(alerts, "Slow", AlertState::kFiring), 1);
  int fatal_active = 0;
  for (const Alert& a : next->ActiveAlerts()) {
    if (a.rule_name == "Fatal") {
      ++fatal_active;
      EXPECT_EQ(a.state, AlertState::kFiring);
      EXPECT_EQ(a.value, 2);  // the count before and after the reload
    }
    if (a.rule_name == "Slow") {
      EXPECT_EQ(a.value, 250);
    }
  }
  EXPECT_EQ(fatal_active, 1);
}

TEST(RuleReloadTest, ChangedDefinitionStartsAfreshAndResolvesTheOldAlert) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(StrCat("rules:\n", kFatal)).ok()) << h.errors.ToString();
  h.Feed({Ev(kT0, R"("log":{"level":"FATAL"},"service":{"name":"mes"})")});
  h.engine->Tick(kT0 + 1);
  h.engine->Tick(kT0 + 10'000);
  ASSERT_EQ(Count(h.sink.alerts(), "Fatal", AlertState::kFiring), 1);
  std::string changed = kFatal;
  changed.replace(changed.find("above: 0"), 8, "above: 5");
  auto next = LoadNext(h, *h.engine, StrCat("rules:\n", changed));
  auto sum = next->TakeOver(*h.engine);
  EXPECT_EQ(sum.kept, 0u);
  EXPECT_EQ(sum.changed, 1u);
  EXPECT_EQ(Count(h.sink.alerts(), "Fatal", AlertState::kResolved), 1);
  EXPECT_NE(next->detector("Fatal"), h.engine->detector("Fatal"));
}

// A newer event older than the wall-clock-advanced stream time must not pull
// stream time back (it reopened closed buckets: firing alerts flapped).
TEST(RuleReloadTest, StreamTimeNeverGoesBackwards) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(StrCat("rules:\n", kFatal)).ok()) << h.errors.ToString();
  h.Feed({Ev(kT0, R"("log":{"level":"FATAL"},"service":{"name":"mes"})")});
  h.engine->Tick(kT0);
  h.engine->Tick(kT0 + 10'000);
  EXPECT_EQ(h.engine->stream_time_ms(), kT0 + 10'000);
  ASSERT_EQ(Count(h.sink.alerts(), "Fatal", AlertState::kFiring), 1);
  h.Feed({Ev(kT0 + 1000, R"("log":{"level":"INFO"})")});
  h.engine->Tick(kT0 + 10'001);
  EXPECT_EQ(h.engine->stream_time_ms(), kT0 + 10'001);
  EXPECT_EQ(Count(h.sink.alerts(), "Fatal", AlertState::kResolved), 0);
  h.Feed({Ev(kT0 + 20'000, R"("log":{"level":"INFO"})")});
  h.engine->Tick(kT0 + 10'002);
  EXPECT_EQ(h.engine->stream_time_ms(), kT0 + 20'000);
}

// The App's reload with an engine fed by pipeline workers: batches keep
// flowing while the rule set is swapped many times (each new set reads a new
// field). The unchanged rule counts every event exactly once.
TEST(RuleReloadTest, ConcurrentReloadWhileBatchesFlowLosesNothing) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(StrCat("rules:\n", kFatal)).ok()) << h.errors.ToString();
  DeadLetterQueue dlq(DeadLetterOptions{h.dir.File("dlq")}, &h.metrics);
  ASSERT_TRUE(dlq.Open().ok());
  h.ctx.dead_letters = &dlq;
  sluice::testing::CaptureSink out;
  std::shared_ptr<RuleEngine> current(std::move(h.engine));
  Pipeline p({.workers = 3, .queue_max_bytes = 1 << 20}, &h.ctx, {&out}, {current.get()});
  p.SetObserver(0, current);
  p.Start();

  constexpr int kBatches = 400, kPerBatch = 50;
  std::atomic<bool> done{false};
  std::thread producer([&] {
    for (int i = 0; i < kBatches; ++i) {
      auto b = std::make_shared<Batch>();
      for (int j = 0; j < kPerBatch; ++j) {
        b->Append(Ev(kT0 + i, StrCat(R"("log":{"level":"FATAL"},"service":{"name":"s)", j % 5, R"("},"x":{"f)", i % 7,
                                     R"(":1})")));
      }
      while (!p.TryPush(b, [] {})) std::this_thread::yield();
    }
    done = true;
  });
  int reloads = 0;
  while (!done || reloads < 5) {
    // Alternate: Fatal alone, Fatal + a rule on a field never seen before.
    std::string extra = reloads % 2 ? "" : StrCat(R"(  - name: Extra
    type: threshold
    match: {x.f)", reloads % 7, R"(: {gte: 1}}
    group_by: [x.g)", reloads, R"(]
    window: 60s
    above: 1000000
)");
    auto next = LoadNext(h, *current, StrCat("rules:\n", kFatal, extra));
    auto sum = next->TakeOver(*current);
    ASSERT_EQ(sum.kept, 1u);
    p.SetObserver(0, next);
    next->MergeWatermark(*current);
    current = next;
    ++reloads;
  }
  producer.join();
  ASSERT_TRUE(sluice::testing::WaitFor([&] { return out.docs().size() == size_t{kBatches * kPerBatch}; }));
  p.Drain(NowMs() + 5000);
  EXPECT_EQ(h.Metric("sluice_rule_events_matched_total", "Fatal"), kBatches * kPerBatch);
  current->Tick(kT0 + kBatches);
  current->Tick(kT0 + 30'000);
  double total = 0;
  for (const Alert& a : current->ActiveAlerts()) total += a.rule_name == "Fatal" ? a.value : 0;
  EXPECT_EQ(total, kBatches * kPerBatch) << reloads << " reloads";
  EXPECT_EQ(h.metrics.Sum("sluice_component_errors_total", {{"reason", "fields_not_extracted"}}), 0);
}

// Through a running App: POST /-/reload with a broken file answers 400 with
// every `file:line: message` and keeps the running set; a fixed file answers
// 200, the new rule fires, and the unchanged rule's alert is not sent again.
TEST(RuleReloadAppTest, PostReloadKeepsWorkingSetOnErrorsAndSwapsOnSuccess) {
  sluice::testing::TempDir dir;
  const std::string critical = R"(  - name: Critical
    type: threshold
    match:
      log.syslog.severity.code: {lte: 2}
    group_by: [host.hostname]
    window: 1m
    above: 0
)";
  sluice::testing::WriteFile(dir.File("rules.yml"), StrCat("rules:\n", critical));
  sluice::testing::WriteFile(dir.File("sluice.yml"), StrCat("data_dir: ", dir.File("data"), R"(
http: {listen: "127.0.0.1:0"}
inputs:
  - {type: syslog, protocol: tcp, listen: "127.0.0.1:0"}
outputs:
  - {type: file, path: )", dir.File("out.ndjson"), R"(}
rules:
  paths: [rules.yml]
  evaluation_interval: 50ms
  allowed_lateness: 0s
)"));
  auto app = App::LoadFile(dir.File("sluice.yml"), false);
  ASSERT_TRUE(app.ok()) << app.status();
  ASSERT_TRUE((*app)->Start().ok());
  const std::string alerts_file = dir.File("data/alerts/alerts.ndjson");
  auto count = [&](const std::string& rule, const std::string& state) {
    int n = 0;
    for (const auto& l : sluice::testing::ReadLines(alerts_file)) {
      n += l.find(StrCat("\"alertname\":\"", rule, "\"")) != std::string::npos &&
           l.find(StrCat("\"state\":\"", state, "\"")) != std::string::npos;
    }
    return n;
  };
  sluice::testing::TcpClient c;
  ASSERT_TRUE(c.Connect("127.0.0.1", sluice::testing::PortOf((*app)->inputs()[0]->bound_address())));
  ASSERT_TRUE(c.WriteAll("<10>Nov 21 05:31:12 mes-core-1 mes[42]: calculation crashed\n"));
  ASSERT_TRUE(sluice::testing::WaitFor([&] { return count("Critical", "firing") == 1; }));
  auto first = (*app)->rules();

  // Broken: an unknown type and a bad condition, each with its file and line.
  sluice::testing::WriteFile(dir.File("rules.yml"), StrCat("rules:\n", critical, R"(  - name: Bad
    type: nonsense
    match: {a: 1}
  - name: Worse
    type: threshold
    match: {a: {regex: "("}}
    window: 1m
    above: 0
)"));
  std::string body;
  EXPECT_EQ(sluice::testing::HttpRequest((*app)->admin_address(), "POST", "/-/reload", &body), 400);
  EXPECT_NE(body.find("rules.yml:10:"), std::string::npos) << body;
  EXPECT_NE(body.find("rules.yml:14:"), std::string::npos) << body;
  EXPECT_EQ((*app)->rules(), first);
  EXPECT_EQ((*app)->metrics()->Value("sluice_rules_reload_total", {{"result", "failure"}}), 1);
  EXPECT_EQ((*app)->metrics()->Value("sluice_rules_last_reload_success"), 0);
  // Through the App API as well.
  EXPECT_FALSE((*app)->ReloadRules().ok());
  EXPECT_EQ((*app)->rules(), first);
  EXPECT_EQ((*app)->metrics()->Value("sluice_rules_reload_total", {{"result", "failure"}}), 2);
  EXPECT_EQ(sluice::testing::HttpRequest((*app)->admin_address(), "GET", "/-/reload", &body), 405);

  // Fixed: Critical unchanged, a new rule on a field not extracted before.
  sluice::testing::WriteFile(dir.File("rules.yml"), StrCat("rules:\n", critical, R"(  - name: FromApp
    type: threshold
    match: {process.name: app}
    window: 1m
    above: 0
)"));
  EXPECT_EQ(sluice::testing::HttpRequest((*app)->admin_address(), "POST", "/-/reload", &body), 200) << body;
  EXPECT_NE((*app)->rules(), first);
  EXPECT_EQ((*app)->rules()->rule_count(), 2u);
  EXPECT_EQ((*app)->metrics()->Value("sluice_rules_reload_total", {{"result", "success"}}), 1);
  EXPECT_EQ((*app)->metrics()->Value("sluice_rules_last_reload_success"), 1);
  first.reset();
  ASSERT_TRUE(c.WriteAll("<14>Nov 21 05:31:13 mes-core-1 app[7]: hello\n"));
  ASSERT_TRUE(sluice::testing::WaitFor([&] { return count("FromApp", "firing") == 1; }));
  EXPECT_EQ(count("Critical", "firing"), 1);  // kept firing, not sent again
  EXPECT_EQ(count("Critical", "resolved"), 0);
  (*app)->Shutdown();
}

}  // namespace
}  // namespace sluice::detectors
