#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "common/strings.h"
#include "common/test_util.h"
#include "common/timeutil.h"
#include "pipeline/app.h"
#include "simulator/generator.h"
#include "simulator/scenario.h"
#include "simulator/simulator.h"

namespace sluice::simulator {
namespace {

constexpr char kAllFaults[] = R"(name: all-faults
start: 2026-11-23T13:00:00Z
duration: 40m
orders_per_hour: 900
requests_per_second: 20
faults:
  - {type: lost_orders, at: 1m, duration: 5m, stage: delivered, count: 4}
  - {type: duplicate_calculation, at: 8m, count: 2, repeats: 3}
  - {type: oversize_model, at: 10m, size: 3GiB}
  - {type: request_storm, at: 12m, duration: 2m, service: crm-api, rate: 30}
  - {type: silent, at: 20m, duration: 5m, service: mes-api}
  - {type: fatal_burst, at: 27m, duration: 1m, service: mes-core, count: 20}
  - {type: failed_calculations, at: 30m, count: 2}
)";

struct SimRun {
  std::vector<SimEvent> events;
  std::vector<std::string> truth;
  GeneratorStats stats;
};

SimRun Generate(const std::string& yaml, uint64_t seed, int64_t step_ms) {
  auto sc = ParseScenario(yaml, "test.yml");
  EXPECT_TRUE(sc.ok()) << sc.status();
  ShopGenerator g(*sc, seed);
  SimRun r;
  for (int64_t t = g.start_ms() + step_ms; !g.done(); t += step_ms) g.GenerateUntil(t, &r.events, &r.truth);
  r.stats = g.stats();
  return r;
}

std::string Str(simdjson::dom::element e, const char* pointer) {
  std::string_view v;
  if (e.at_pointer(pointer).get_string().get(v) != simdjson::SUCCESS) return "";
  return std::string(v);
}
int64_t Int(simdjson::dom::element e, const char* pointer) {
  int64_t v = -1;
  if (e.at_pointer(pointer).get_int64().get(v) != simdjson::SUCCESS) return -1;
  return v;
}

TEST(SimulatorTest, DeterministicWithASeedWhateverTheSteps) {
  SimRun a = Generate(kAllFaults, 42, 1000), b = Generate(kAllFaults, 42, 7'300), c = Generate(kAllFaults, 43, 1000);
  ASSERT_EQ(a.events.size(), b.events.size());
  for (size_t i = 0; i < a.events.size(); ++i) ASSERT_EQ(a.events[i].text, b.events[i].text) << i;
  EXPECT_EQ(a.truth, b.truth);
  EXPECT_NE(a.events.size(), c.events.size());
  EXPECT_GT(a.events.size(), 20'000u);
  // Time order, inside the scenario.
  for (size_t i = 1; i < a.events.size(); ++i) ASSERT_LE(a.events[i - 1].ts_ms, a.events[i].ts_ms);
  int64_t start;
  ASSERT_TRUE(ParseRfc3339Ms("2026-11-23T13:00:00Z", &start));
  EXPECT_GE(a.events.front().ts_ms, start);
  EXPECT_LT(a.events.back().ts_ms, start + 40 * 60'000);
}

TEST(SimulatorTest, EventsAreValidJsonWithTheDocumentedFields) {
  SimRun r = Generate(kAllFaults, 7, 1000);
  simdjson::dom::parser parser;
  std::map<std::string, int> actions;
  std::set<std::string> levels, services;
  int access = 0, syslog = 0;
  for (const SimEvent& e : r.events) {
    if (e.channel == SimEvent::kSyslog) {
      ++syslog;
      ASSERT_EQ(e.text.rfind("<1", 0), 0u) << e.text;
      ASSERT_NE(e.text.find(">1 2026-11-23T"), std::string::npos) << e.text;  // RFC 5424, simulated time
      continue;
    }
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(e.text).get(doc), simdjson::SUCCESS) << e.text;
    ASSERT_EQ(Str(doc, "/@timestamp"), FormatRfc3339Ms(e.ts_ms));
    ASSERT_EQ(Str(doc, "/@metadata/beat"), "filebeat");
    ASSERT_FALSE(Str(doc, "/host/name").empty());
    ASSERT_FALSE(Str(doc, "/message").empty());
    services.insert(Str(doc, "/service/name"));
    levels.insert(Str(doc, "/log/level"));
    std::string action = Str(doc, "/event/action");
    ++actions[action];
    if (action == "http-request") {
      ++access;
      ASSERT_EQ(Str(doc, "/url/path").rfind("/api/", 0), 0u) << e.text;
      ASSERT_FALSE(Str(doc, "/http/request/method").empty()) << e.text;
      ASSERT_GE(Int(doc, "/http/response/status_code"), 200) << e.text;
      ASSERT_GT(Int(doc, "/http/response/bytes"), 0) << e.text;
      ASSERT_GT(Int(doc, "/event/duration"), 0) << e.text;
      ASSERT_EQ(Str(doc, "/session/id").size(), 16u) << e.text;
    }
    if (action == "calculation-requested" || action == "model-stored") {
      ASSERT_GT(Int(doc, "/file/size"), 0) << e.text;
      ASSERT_EQ(Str(doc, "/model/sha256").size(), 64u) << e.text;
    }
    if (action != "http-request" && action != "debug" && action != "worker-crashed") {
      ASSERT_EQ(Str(doc, "/order/id").rfind("ORD-", 0), 0u) << e.text;
      ASSERT_EQ(Str(doc, "/trace/id").size(), 32u) << e.text;
    }
  }
  EXPECT_EQ(levels, (std::set<std::string>{"FATAL", "WARN", "INFO", "TRACE"}));
  EXPECT_EQ(services.size(), 8u);
  for (const char* a : {"order-created", "published", "delivered", "acked", "dead-lettered", "calculation-requested",
                        "model-stored", "model-read", "calculation-stage", "calculation-completed",
                        "calculation-failed", "order-status-changed", "worker-crashed"}) {
    EXPECT_GT(actions[a], 0) << a;
  }
  // Three stages per completed calculation, two before a failure (orders still running at the end: fewer).
  EXPECT_GE(actions["calculation-stage"], 3 * actions["calculation-completed"] + 2 * actions["calculation-failed"]);
  EXPECT_GT(access, 10'000);
  EXPECT_GT(syslog, 100);
  EXPECT_EQ(r.stats.beats_events + r.stats.syslog_events, r.events.size());
}

TEST(SimulatorTest, EveryFaultIsInTheTruthAndInTheEvents) {
  SimRun r = Generate(kAllFaults, 11, 1000);
  simdjson::dom::parser parser;
  std::map<std::string, std::vector<simdjson::dom::element>> truth;
  std::vector<simdjson::dom::parser> truth_parsers(r.truth.size());
  for (size_t i = 0; i < r.truth.size(); ++i) {
    simdjson::dom::element t;
    ASSERT_EQ(truth_parsers[i].parse(r.truth[i]).get(t), simdjson::SUCCESS) << r.truth[i];
    ASSERT_FALSE(Str(t, "/expected_alert").empty());
    ASSERT_FALSE(Str(t, "/start").empty());
    truth[Str(t, "/fault")].push_back(t);
  }
  for (const char* f : {"lost_orders", "duplicate_calculation", "oversize_model", "request_storm", "silent",
                        "fatal_burst", "failed_calculations"}) {
    EXPECT_FALSE(truth[f].empty()) << f;
  }
  // What each order did, by stage-bearing action.
  std::map<std::string, std::multiset<std::string>> by_order;
  std::map<std::string, int> requested_by_sha;
  int storm = 0, fatal = 0, mes_api_in_silence = 0;
  int64_t silent_from, silent_to;
  ASSERT_TRUE(ParseRfc3339Ms(Str(truth["silent"][0], "/start"), &silent_from));
  ASSERT_TRUE(ParseRfc3339Ms(Str(truth["silent"][0], "/end"), &silent_to));
  bool oversize_seen = false;
  for (const SimEvent& e : r.events) {
    if (e.channel != SimEvent::kBeats) continue;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(e.text).get(doc), simdjson::SUCCESS);
    std::string order = Str(doc, "/order/id"), action = Str(doc, "/event/action");
    if (!order.empty()) by_order[order].insert(action);
    if (action == "calculation-requested") {
      ++requested_by_sha[Str(doc, "/model/sha256")];
      oversize_seen |= Int(doc, "/file/size") == (int64_t{3} << 30);
    }
    storm += Str(doc, "/client/ip") == "192.0.2.66" && Str(doc, "/service/name") == "crm-api";
    fatal += Str(doc, "/log/level") == "FATAL";
    mes_api_in_silence += Str(doc, "/service/name") == "mes-api" && e.ts_ms >= silent_from && e.ts_ms < silent_to;
  }
  // Lost at `delivered`: delivered, never stored.
  int lost = 0;
  for (auto t : truth["lost_orders"]) {
    std::string key = Str(t, "/key");
    if (key.empty()) continue;  // the fault's own record
    ++lost;
    EXPECT_EQ(Str(t, "/stage"), "delivered");
    EXPECT_EQ(Str(t, "/expected_stage"), "model_stored");
    EXPECT_EQ(by_order[key].count("delivered"), 1u) << key;
    EXPECT_EQ(by_order[key].count("model-stored"), 0u) << key;
    EXPECT_EQ(by_order[key].count("order-status-changed"), 0u) << key;
  }
  EXPECT_EQ(lost, 4);
  for (auto t : truth["duplicate_calculation"]) EXPECT_EQ(requested_by_sha[Str(t, "/model_sha256")], 3);
  EXPECT_EQ(truth["duplicate_calculation"].size(), 2u);
  EXPECT_TRUE(oversize_seen);
  EXPECT_GT(storm, 30 * 120 * 0.8);
  EXPECT_EQ(mes_api_in_silence, 0);
  EXPECT_GT(fatal, 5);
  EXPECT_EQ(Str(truth["fatal_burst"][0], "/key"), "mes-core");
  for (auto t : truth["failed_calculations"]) {
    EXPECT_EQ(by_order[Str(t, "/key")].count("calculation-failed"), 1u);
    EXPECT_EQ(by_order[Str(t, "/key")].count("calculation-completed"), 0u);
  }
}

TEST(SimulatorTest, ScenarioErrorsHaveFileAndLine) {
  auto sc = ParseScenario(R"(name: bad
duration: soon
faults:
  - {type: lost_orders, at: 1m, stage: nowhere}
  - {type: meteor, at: 2m}
  - {type: silent, service: mes-api}
  - {type: fatal_burst, at: 1m, colour: red}
)",
                          "bad.yml");
  ASSERT_FALSE(sc.ok());
  std::string e(MessageOf(sc.status().message()));
  EXPECT_NE(e.find("bad.yml:2: duration"), std::string::npos) << e;
  EXPECT_NE(e.find("bad.yml:4: "), std::string::npos) << e;
  EXPECT_NE(e.find("nowhere"), std::string::npos) << e;
  EXPECT_NE(e.find("bad.yml:5: "), std::string::npos) << e;
  EXPECT_NE(e.find("meteor"), std::string::npos) << e;
  EXPECT_NE(e.find("bad.yml:6: "), std::string::npos) << e;
  EXPECT_NE(e.find("bad.yml:7: "), std::string::npos) << e;
  EXPECT_NE(e.find("colour"), std::string::npos) << e;
  // The shipped scenarios parse.
  for (const char* f : {"lost-orders.yml", "mixed-faults.yml", "quiet-day.yml"}) {
    auto s = LoadScenarioFile(StrCat(testing::SourceDir(), "/rules/scenarios/", f));
    EXPECT_TRUE(s.ok()) << f << ": " << s.status();
  }
}

TEST(SimulatorTest, ParsesItsCommandLine) {
  SimulatorOptions o;
  std::string err;
  ASSERT_TRUE(ParseSimulateArgs({"--scenario", "s.yml", "--beats=127.0.0.1:5044", "--speed", "0", "--seed", "9",
                                 "--duration", "30m", "--truth", "t.ndjson", "--quiet"},
                                &o, &err))
      << err;
  EXPECT_EQ(o.scenario_file, "s.yml");
  EXPECT_EQ(o.beats, "127.0.0.1:5044");
  EXPECT_EQ(o.speed, 0);
  EXPECT_EQ(o.seed, 9u);
  EXPECT_EQ(o.duration_ms, 30 * 60'000);
  EXPECT_FALSE(o.progress);
  EXPECT_FALSE(ParseSimulateArgs({"--speed", "fast"}, &o, &err));
  EXPECT_FALSE(ParseSimulateArgs({"--bogus", "1"}, &o, &err));
}

// A short scenario into an in-process sluice (Beats + syslog inputs, file
// output, rules/shop.yml): every event arrives, and the lost orders raise
// OrderStuck naming them.
TEST(SimulatorTest, IntoARunningSluice) {
  testing::TempDir dir;
  // No start: the run ends now, as sluice expects event times near its clock.
  // The daily shape then depends on the hour the test runs (night is 10% of
  // the peak): enough orders that the fault finds its three even at night.
  testing::WriteFile(dir.File("scenario.yml"), R"(name: short
duration: 12m
orders_per_hour: 6000
requests_per_second: 10
faults:
  - {type: lost_orders, at: 1m, duration: 3m, stage: published, count: 3}
)");
  std::string yaml = StrCat("data_dir: ", dir.File("data"), R"(
http: {listen: ""}
inputs:
  - {type: beats, listen: "127.0.0.1:0"}
  - {type: syslog, protocol: tcp, listen: "127.0.0.1:0"}
outputs:
  - {type: file, path: )", dir.File("out.ndjson"), R"(}
rules:
  paths: [)", testing::SourceDir(), R"(/rules/shop.yml]
  evaluation_interval: 50ms
  allowed_lateness: 0s
)");
  auto app = App::Load(yaml, dir.File("sluice.yml"), false);
  ASSERT_TRUE(app.ok()) << app.status();
  ASSERT_TRUE((*app)->Start().ok());
  SimulatorOptions o;
  o.scenario_file = dir.File("scenario.yml");
  o.beats = (*app)->inputs()[0]->bound_address();
  o.syslog = (*app)->inputs()[1]->bound_address();
  o.truth_file = dir.File("truth.ndjson");
  o.speed = 0;
  o.seed = 5;
  o.window = 256;
  o.progress = false;
  SimulatorResult res;
  std::ostringstream progress;
  ASSERT_TRUE(RunSimulation(o, progress, &res).ok());
  EXPECT_GT(res.windows, 5u);
  const uint64_t sent = res.stats.beats_events + res.stats.syslog_events;
  auto count = [&](const char* needle) {
    int n = 0;
    for (const auto& l : testing::ReadLines(dir.File("out.ndjson"))) n += l.find(needle) != std::string::npos;
    return n;
  };
  // Beats windows are ACKed once written; syslog lines arrive a little later.
  ASSERT_TRUE(testing::WaitFor([&] {
    return count("\"agent\":{\"type\":\"filebeat\"") == static_cast<int>(res.stats.beats_events) &&
           count("\"syslog\":") == static_cast<int>(res.stats.syslog_events);
  })) << count("\"agent\":{\"type\":\"filebeat\"") << " of " << res.stats.beats_events << ", "
      << count("\"syslog\":") << " of " << res.stats.syslog_events;
  EXPECT_GT(sent, 1000u);
  // The three lost orders (stuck after `published`) fire OrderStuck by name.
  std::vector<std::string> lost;
  for (const auto& l : testing::ReadLines(dir.File("truth.ndjson"))) {
    size_t k = l.find("\"key\":\"ORD-");
    if (k != std::string::npos) lost.push_back(l.substr(k + 7, 12));
  }
  ASSERT_EQ(lost.size(), 3u);
  ASSERT_TRUE(testing::WaitFor([&] {
    std::string alerts = testing::ReadFile(dir.File("data/alerts/alerts.ndjson"));
    for (const auto& id : lost) {
      if (alerts.find(StrCat("\"order_id\":\"", id, "\"")) == std::string::npos) return false;
    }
    return true;
  })) << testing::ReadFile(dir.File("data/alerts/alerts.ndjson"));
  std::string alerts = testing::ReadFile(dir.File("data/alerts/alerts.ndjson"));
  EXPECT_NE(alerts.find("\"expected_stage\":\"delivered\""), std::string::npos);
  (*app)->Shutdown();
  // The flows in flight were saved at shutdown.
  EXPECT_TRUE(std::filesystem::exists(dir.File("data/state/detectors.bin")));
}

}  // namespace
}  // namespace sluice::simulator
