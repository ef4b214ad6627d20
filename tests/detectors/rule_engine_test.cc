#include "detectors/rule_engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "detectors/rules_harness.h"
#include "pipeline/app.h"
#include "pipeline/dead_letter.h"
#include "pipeline/pipeline.h"
#include "pipeline/capture_sink.h"

namespace sluice::detectors {
namespace {

using testing::Ev;
using testing::kT0;
using testing::RulesHarness;

constexpr char kRule[] = R"(rules:
  - name: Fatal
    type: threshold
    match: {log.level: FATAL}
    group_by: [service.name]
    window: 60s
    above: 0
)";

TEST(RuleEngineTest, FedByThePipelineWorkers) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(kRule).ok());
  DeadLetterQueue dlq(DeadLetterOptions{h.dir.File("dlq")}, &h.metrics);
  ASSERT_TRUE(dlq.Open().ok());
  h.ctx.dead_letters = &dlq;
  sluice::testing::CaptureSink out;
  Pipeline p({.workers = 2, .queue_max_bytes = 1 << 20}, &h.ctx, {&out}, {h.engine.get()});
  p.Start();
  for (int i = 0; i < 20; ++i) {
    auto b = std::make_shared<Batch>();
    b->Append(Ev(kT0 + i, R"("log":{"level":"FATAL"},"service":{"name":"mes"})"));
    b->Append(Ev(kT0 + i, R"("log":{"level":"INFO"},"service":{"name":"mes"})"));
    b->Append("not json");
    ASSERT_TRUE(p.TryPush(b, [] {}));
  }
  ASSERT_TRUE(sluice::testing::WaitFor([&] { return out.docs().size() == 40; }));
  p.Drain(NowMs() + 5000);
  EXPECT_EQ(h.Metric("sluice_rule_events_matched_total", "Fatal"), 20);
  h.engine->Tick(kT0 + 20);
  h.engine->Tick(kT0 + 10'000);
  ASSERT_EQ(h.sink.states(), (std::vector<std::string>{"firing"}));
  EXPECT_EQ(h.sink.alerts()[0].value, 20);
}

TEST(RuleEngineTest, ConcurrentObserversLoseNothing) {
  RulesHarness h;
  ASSERT_TRUE(h.Load(StrCat(kRule, R"(  - name: Dup
    type: duplicate
    match: {log.level: FATAL}
    fingerprint: [n]
    window: 10m
)")).ok()) << h.errors.ToString();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (int round = 0; round < 50; ++round) {
        std::vector<std::string> evs;
        for (int i = 0; i < 100; ++i) {
          evs.push_back(Ev(kT0 + i, StrCat(R"("log":{"level":"FATAL"},"service":{"name":"s)", i % 7,
                                           R"("},"n":)", (t * 100000 + round * 100 + i) % 1000)));
        }
        h.Feed(evs);
      }
    });
  }
  for (int i = 0; i < 20; ++i) h.engine->Tick(kT0 + i);  // ticks race with the observers
  for (auto& t : threads) t.join();
  EXPECT_EQ(h.Metric("sluice_rule_events_matched_total", "Fatal"), 20'000);
  h.engine->Tick(kT0 + 99);  // the newest event time becomes the stream time
  h.engine->Tick(kT0 + 30'000);
  std::map<std::string, double> by_rule;
  for (const Alert& a : h.engine->ActiveAlerts()) by_rule[a.rule_name] += a.value;
  EXPECT_EQ(by_rule["Fatal"], 20'000);  // 7 groups, all events counted
  EXPECT_EQ(by_rule["Dup"], 20);        // each of 1000 fingerprints seen 20 times
}

TEST(RuleEngineTest, AlertJsonIsAlertmanagerShaped) {
  Alert a;
  a.labels = {{"alertname", "X"}, {"service_name", "a\"b"}};
  a.annotations = {{"summary", "s"}};
  a.state = AlertState::kResolved;
  a.active_at_ms = kT0;
  a.starts_at_ms = kT0 + 1000;
  a.ends_at_ms = kT0 + 2000;
  a.value = 2.5;
  a.threshold = 1;
  a.evidence = {{"window", "60s"}};
  a.samples = {R"({"m":1})"};
  a.rule_name = "X";
  a.rule_file = "r.yml";
  a.rule_line = 3;
  a.rule_hash = "00ff";
  EXPECT_EQ(AlertToJson(a),
            R"({"labels":{"alertname":"X","service_name":"a\"b"},"annotations":{"summary":"s"},"state":"resolved",)"
            R"("activeAt":"2027-01-15T08:00:00.000Z","startsAt":"2027-01-15T08:00:01.000Z",)"
            R"("endsAt":"2027-01-15T08:00:02.000Z","value":2.5,"threshold":1,"evidence":{"window":"60s"},)"
            R"("rule":{"name":"X","file":"r.yml","line":3,"hash":"00ff"},"samples":["{\"m\":1}"]})");
}

// The App: `rules:` in the config, rule errors from `sluice check`, alerts in
// <data_dir>/alerts/alerts.ndjson driven by the real (wall-clock) ticker.
TEST(RuleEngineAppTest, ChecksRulesAndWritesAlerts) {
  sluice::testing::TempDir dir;
  std::filesystem::create_directories(dir.File("rules"));
  sluice::testing::WriteFile(dir.File("rules/bad.yml"), "rules:\n  - name: X\n    type: threshold\n    match: {a: 1}\n");
  std::string cfg = StrCat("data_dir: ", dir.File("data"), "\nhttp: {listen: ''}\noutputs:\n  - {type: file, path: ",
                           dir.File("out.ndjson"), "}\nrules:\n  paths: [rules/*.yml]\n  evaluation_interval: 50ms\n");
  auto bad = App::Load(cfg, dir.File("sluice.yml"), true);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(std::string(MessageOf(bad.status().message())),
            dir.File("rules/bad.yml") + ":2: rules[0].window: required parameter is missing (a duration such as 5m)\n" +
                dir.File("rules/bad.yml") + ":2: rules[0].window: exactly one of `above` and `below` is required");
  EXPECT_NE(std::string(MessageOf(App::Load(cfg + "  bogus: 1\n", dir.File("sluice.yml"), true).status().message()))
                .find("sluice.yml:8: unknown key \"rules.bogus\""),
            std::string::npos);

  std::filesystem::remove(dir.File("rules/bad.yml"));
  sluice::testing::WriteFile(dir.File("rules/ok.yml"), R"(rules:
  - name: NothingArrives
    type: threshold
    match: {event.action: heartbeat}
    window: 200ms
    below: 1
    annotations: {summary: "no heartbeat"}
  - name: Fatal
    type: threshold
    match: {log.level: FATAL}
    window: 200ms
    above: 0
)");
  auto app = App::Load(cfg, dir.File("sluice.yml"), false);
  ASSERT_TRUE(app.ok()) << app.status();
  ASSERT_NE((*app)->rules(), nullptr);
  ASSERT_TRUE((*app)->Start().ok());
  const std::string alerts = dir.File("data/alerts/alerts.ndjson");
  auto has = [&](const std::string& s) { return sluice::testing::ReadFile(alerts).find(s) != std::string::npos; };
  // No heartbeat ever: the wall clock alone fires the `below` rule.
  ASSERT_TRUE(sluice::testing::WaitFor([&] { return has(R"("alertname":"NothingArrives")"); }));
  EXPECT_TRUE(has(R"("summary":"no heartbeat")"));
  Batch b;
  b.Append(Ev(NowMs(), R"("log":{"level":"FATAL"})"));
  b.received_ms = NowMs();
  EventParser parser((*app)->rules() ? std::vector<std::string>{"event.action", "log.level"} : std::vector<std::string>{});
  parser.ParseBatch(&b);
  (*app)->rules()->Observe(b);
  ASSERT_TRUE(sluice::testing::WaitFor([&] { return has(R"("alertname":"Fatal")"); }));
  EXPECT_TRUE(has(R"("state":"firing")"));
  (*app)->Shutdown();
}

}  // namespace
}  // namespace sluice::detectors
