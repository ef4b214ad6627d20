// Scenario tests of the 3D-print shop (issue #5): the simulator (`sluice
// simulate`'s generator and client, in this process) plays a scenario into the
// real `sluice run` binary (Beats + syslog over TCP in, NDJSON file out, the
// rule pack rules/shop/*.yml), and the scorecard (simulator/scorecard.h)
// compares the alerts file with the simulator's ground truth.
//
// Time is compressed (speed: simulated seconds per real second); every
// deadline is in simulated time, from the fault's start in the truth file to
// the alert's startsAt. Without `start:`, a scenario ends at the current time
// (sluice clamps event times ahead of its clock), so the daily traffic shape
// depends on when the test runs: the order rates are high enough for the
// faults at night too (10% of the peak).

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "common/strings.h"
#include "common/test_util.h"
#include "common/timeutil.h"
#include "simulator/scorecard.h"
#include "simulator/simulator.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using testing::WaitFor;

std::string SluiceBinary() { return testing::BinaryDir() + "/sluice"; }

// A value of the admin endpoint's /metrics: the sum of the series of `name`
// whose labels contain `filter`; -1 when the endpoint does not answer.
double MetricSum(const std::string& admin, const std::string& name, const std::string& filter) {
  std::string body;
  if (testing::HttpRequest(admin, "GET", "/metrics", &body) != 200) return -1;
  double sum = 0;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    if (line[name.size()] != '{' && line[name.size()] != ' ') continue;  // a longer name
    if (line.find(filter) == std::string::npos) continue;
    sum += std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
  }
  return sum;
}

class ShopScenarioTest : public ::testing::Test {
 protected:
  struct Options {
    double speed = 200;
    uint64_t seed = 3;
    std::string output;                 // default: events.ndjson in the test directory
    int evaluation_interval_ms = 100;
    int allowed_lateness_s = 10;
  };

  void Configure(const Options& o) {
    opts_ = o;
    admin_ = StrCat("127.0.0.1:", testing::FreeTcpPort());
    beats_ = StrCat("127.0.0.1:", testing::FreeTcpPort());
    syslog_ = StrCat("127.0.0.1:", testing::FreeTcpPort());
    const std::string out = o.output.empty() ? dir_.File("events.ndjson") : o.output;
    testing::WriteFile(dir_.File("sluice.yml"),
                       StrCat("data_dir: ", dir_.File("data"), "\nhttp: {listen: \"", admin_, "\"}\ninputs:\n",
                              "  - {type: beats, listen: \"", beats_, "\"}\n",
                              "  - {type: syslog, protocol: tcp, listen: \"", syslog_, "\"}\n",
                              "outputs:\n  - {type: file, path: \"", out, "\"}\n",
                              "rules:\n  paths: [\"", testing::SourceDir(), "/rules/shop/*.yml\"]\n",
                              "  evaluation_interval: ", o.evaluation_interval_ms, "ms\n",
                              "  allowed_lateness: ", o.allowed_lateness_s, "s\n"));
  }

  void StartSluice() {
    sluice_ = std::make_unique<testing::Subprocess>(
        std::vector<std::string>{SluiceBinary(), "run", "--config", dir_.File("sluice.yml")},
        dir_.File(StrCat("sluice-", ++starts_, ".log")));
    ASSERT_TRUE(sluice_->ok());
    std::string body;
    ASSERT_TRUE(WaitFor([&] { return testing::HttpRequest(admin_, "GET", "/healthz", &body) == 200; }, 20s))
        << LogTail();
  }

  // SIGTERM: sluice drains, saves the flows in flight and exits 0.
  void StopSluice() {
    sluice_->Kill(SIGTERM);
    EXPECT_EQ(sluice_->Wait(30s), 0) << LogTail();
    sluice_.reset();
  }

  std::string LogTail() const {
    std::string log = testing::ReadFile(dir_.File(StrCat("sluice-", starts_, ".log")));
    return log.size() > 3000 ? log.substr(log.size() - 3000) : log;
  }

  simulator::SimulatorOptions SimOptions(const std::string& scenario_yaml) {
    testing::WriteFile(dir_.File("scenario.yml"), scenario_yaml);
    simulator::SimulatorOptions s;
    s.scenario_file = dir_.File("scenario.yml");
    s.beats = beats_;
    s.syslog = syslog_;
    s.truth_file = dir_.File("truth.ndjson");
    s.speed = opts_.speed;
    s.seed = opts_.seed;
    s.window = 256;
    s.progress = false;
    return s;
  }

  void Simulate(const simulator::SimulatorOptions& s, simulator::SimulatorResult* result) {
    std::ostringstream progress;
    absl::Status st = simulator::RunSimulation(s, progress, result);
    ASSERT_TRUE(st.ok()) << st << "\n" << progress.str();
  }

  simulator::ScorecardResult Score(std::string* text = nullptr) const {
    std::ostringstream out;
    simulator::ScorecardResult r =
        simulator::WriteScorecard(dir_.File("truth.ndjson"), dir_.File("data/alerts/alerts.ndjson"), out);
    if (text) *text = out.str();
    return r;
  }

  std::vector<std::string> FiringAlerts() const {
    std::vector<std::string> out;
    for (const auto& l : testing::ReadLines(dir_.File("data/alerts/alerts.ndjson"))) {
      if (l.find("\"state\":\"firing\"") != std::string::npos) out.push_back(l);
    }
    return out;
  }

  testing::TempDir dir_;
  Options opts_;
  std::string admin_, beats_, syslog_;
  std::unique_ptr<testing::Subprocess> sluice_;
  int starts_ = 0;
};

// One fault type per run: the scenario's fault is caught by its expected
// alert within `deadline` (simulated time), and no alert is unexplained.
struct FaultCase {
  const char* name;
  const char* fault;   // one fault, YAML flow map
  const char* duration;
  int64_t deadline_ms;
};

std::ostream& operator<<(std::ostream& o, const FaultCase& c) { return o << c.name; }

class FaultCaughtTest : public ShopScenarioTest, public ::testing::WithParamInterface<FaultCase> {};

TEST_P(FaultCaughtTest, WithinItsDeadline) {
  const FaultCase& c = GetParam();
  Configure({});
  ASSERT_NO_FATAL_FAILURE(StartSluice());
  simulator::SimulatorResult res;
  ASSERT_NO_FATAL_FAILURE(Simulate(SimOptions(StrCat("name: ", c.name, "\nduration: ", c.duration,
                                                     "\norders_per_hour: 3000\nrequests_per_second: 20\nfaults:\n  - ",
                                                     c.fault, "\n")),
                                   &res));
  ASSERT_GE(res.stats.faults_started, 1u);
  // The last alerts come at the next evaluations after the last events.
  std::string card;
  EXPECT_TRUE(WaitFor([&] {
    simulator::ScorecardResult r = Score();
    return r.faults > 0 && r.caught == r.faults;
  }, 20s));
  StopSluice();
  simulator::ScorecardResult r = Score(&card);
  ASSERT_GT(r.faults, 0) << card;
  EXPECT_EQ(r.caught, r.faults) << card;
  for (const simulator::ScorecardRow& row : r.rows) {
    EXPECT_TRUE(row.caught) << row.fault << " " << row.key << "\n" << card;
    EXPECT_LE(row.delay_ms, c.deadline_ms) << row.fault << " " << row.key << " caught late\n" << card;
  }
  EXPECT_EQ(r.unexplained_alerts, 0) << card;
  std::printf("%s", card.c_str());
}

// Deadlines: the rule's own (a stage's `within`, a window) plus a minute for
// the evaluation ticks (20 s of simulated time at speed 200) and the allowed lateness.
INSTANTIATE_TEST_SUITE_P(
    Shop, FaultCaughtTest,
    ::testing::Values(
        // OrderStuck, expected `delivered` within 1m of `published`.
        FaultCase{"lost_at_published", "{type: lost_orders, at: 3m, duration: 5m, stage: published, count: 5}", "12m",
                  2 * 60'000},
        // OrderStuck, expected `status_changed` within 1m of the ack.
        FaultCase{"lost_at_calculated", "{type: lost_orders, at: 3m, duration: 5m, stage: calculated, count: 5}",
                  "16m", 2 * 60'000},
        // DuplicateCalculation: at the evaluation after the second request.
        FaultCase{"duplicate_calculation", "{type: duplicate_calculation, at: 3m, count: 2, repeats: 3}", "8m",
                  60'000},
        // OversizeModel: at the evaluation after the request.
        FaultCase{"oversize_model", "{type: oversize_model, at: 3m, size: 3GiB}", "8m", 60'000},
        // RequestStorm: 1800 requests/min from one client, above 600 within the first 20 s.
        FaultCase{"request_storm", "{type: request_storm, at: 3m, duration: 3m, service: crm-api, rate: 30}", "9m",
                  90'000},
        // ServiceSilent: a 5-minute window without one event.
        FaultCase{"silent", "{type: silent, at: 6m, duration: 8m, service: mes-api}", "16m", 6 * 60'000 + 30'000},
        // FatalErrors: the first FATAL's bucket closed (5m / 8 = 37.5 s), then the
        // lateness (10 s) and a tick (20 s): at most 67.5 s after it (a CI run
        // took 67.6 s when the burst began at a bucket's start; 6-57 s in 40 runs
        // here, the same before and after 2026-11-22's changes).
        FaultCase{"fatal_burst", "{type: fatal_burst, at: 3m, duration: 1m, service: mes-core, count: 20}", "8m",
                  75'000},
        // OrderStuck reason=failed: at the failure.
        FaultCase{"failed_calculations", "{type: failed_calculations, at: 3m, count: 3}", "10m", 60'000}),
    [](const ::testing::TestParamInfo<FaultCase>& i) { return std::string(i.param.name); });

// A quiet day: 24 hours of simulated traffic without faults, at 1200x (72 s),
// raise no alert at all. Events go to /dev/null (about 1.3 million).
// allowed_lateness is wide because time is compressed: at 1200x a batch that a
// busy CPU holds 50 ms behind another is 60 s late in event time, and events
// later than allowed_lateness are skipped by the detectors (CI once saw a
// false "fewer than a fifth" drop that way with 60 s). The stream's clock is
// the newest event of any input, so a Beats connection waiting for its ACKs
// while syslog flows on falls behind it: at 2400x, under load average 8-10,
// a false ServiceSilent for mes-api was seen once with 30 minutes (750 ms of
// wall time). At 1200x the same 30 minutes are 1.5 s of wall time; they also
// cover the evaluations between windows. A later false drop with nothing
// late (9 against a usual of 48 at 22:15) was the rule itself:
// OrderEventsDropped now asks for a tenth (rules/README.md).
TEST_F(ShopScenarioTest, QuietDayRaisesNoAlert) {
  Options o;
  o.speed = 1200;
  o.seed = 11;
  o.output = "/dev/null";
  o.evaluation_interval_ms = 20;  // 24 s of simulated time
  o.allowed_lateness_s = 1800;
  Configure(o);
  ASSERT_NO_FATAL_FAILURE(StartSluice());
  simulator::SimulatorResult res;
  ASSERT_NO_FATAL_FAILURE(
      Simulate(SimOptions(testing::ReadFile(StrCat(testing::SourceDir(), "/rules/scenarios/quiet-day.yml"))), &res));
  const double total = static_cast<double>(res.stats.beats_events + res.stats.syslog_events);
  EXPECT_GT(total, 500'000);
  // Syslog has no ACK: wait until the output has every event.
  EXPECT_TRUE(WaitFor([&] { return MetricSum(admin_, "sluice_component_sent_events_total", "file") >= total; }, 30s))
      << MetricSum(admin_, "sluice_component_sent_events_total", "file") << " of " << total;
  const double orders = MetricSum(admin_, "sluice_flow_outcomes_total", "completed");
  const double late = MetricSum(admin_, "sluice_rule_late_events_total", "");
  StopSluice();
  EXPECT_GT(orders, 5000);  // the flow followed the day's orders
  std::vector<std::string> firing = FiringAlerts();
  EXPECT_TRUE(firing.empty()) << firing.size() << " alerts (" << late << " rule matches came too late), the first: "
                              << firing.front();
}

// SIGTERM in the middle of many orders in flight, then a new sluice on the
// same data_dir: the flows saved at shutdown are loaded, so every order
// either completes or is alerted as stuck — none forgotten. Lost orders whose
// deadline falls after the restart are the proof: only the saved state knows
// them.
//
// Nor is any order that later completes alerted: the snapshot carries the
// stream clock, so the restarted engine judges the loaded orders at the
// stream's time, not at the wall clock (the compressed stream is ~25 minutes
// behind it after the restart).
TEST_F(ShopScenarioTest, RestartLosesNoOrderInFlight) {
  Configure({});
  ASSERT_NO_FATAL_FAILURE(StartSluice());
  // Orders lost after `delivered` from 3m to 15m; the next stage is due 15m later.
  simulator::SimulatorOptions s = SimOptions(R"(name: restart
duration: 40m
orders_per_hour: 3000
requests_per_second: 10
faults:
  - {type: lost_orders, at: 3m, duration: 12m, stage: delivered, fraction: 0.5, count: 20}
)");
  simulator::SimulatorResult res;
  std::thread sim([&] { Simulate(s, &res); });
  // Restart when the stream reaches 14 minutes: the first lost orders are
  // about to be due, most are not yet.
  const std::string out = dir_.File("events.ndjson");
  int64_t first_ms = 0, last_ms = 0;
  auto stream_minutes = [&]() -> double {
    std::ifstream f(out, std::ios::binary);
    std::string line;
    if (first_ms == 0) {
      if (!std::getline(f, line)) return 0;
      ParseRfc3339Ms(line.substr(line.find("\"@timestamp\":\"") + 14, 24), &first_ms);
    }
    f.clear();
    f.seekg(0, std::ios::end);
    const std::streamoff size = f.tellg();
    f.seekg(std::max<std::streamoff>(0, size - 8192));
    while (std::getline(f, line)) {
      size_t p = line.find("\"@timestamp\":\"");
      if (p != std::string::npos && line.back() == '}') ParseRfc3339Ms(line.substr(p + 14, 24), &last_ms);
    }
    return static_cast<double>(last_ms - first_ms) / 60'000.0;
  };
  const bool reached = WaitFor([&] { return stream_minutes() >= 14; }, 30s);
  StopSluice();
  const double restarted_at = stream_minutes();
  EXPECT_TRUE(reached) << restarted_at;
  EXPECT_TRUE(std::filesystem::exists(dir_.File("data/state/detectors.bin")));
  const size_t alerts_before = FiringAlerts().size();
  ASSERT_NO_FATAL_FAILURE(StartSluice());
  sim.join();
  EXPECT_GE(res.reconnects, 1u);

  // Every lost order alerted (by name), the last ones ~30m into the run.
  std::string card;
  EXPECT_TRUE(WaitFor([&] {
    simulator::ScorecardResult r = Score();
    return r.faults > 0 && r.caught == r.faults;
  }, 20s));
  const double completed_after = MetricSum(admin_, "sluice_flow_outcomes_total", "completed");
  StopSluice();
  simulator::ScorecardResult r = Score(&card);
  EXPECT_GE(r.faults, 10) << card;  // 20 unless the run is at night (10% of the orders)
  EXPECT_EQ(r.caught, r.faults) << card;
  std::printf("restart at %.1f min of simulated time: %d lost orders, all alerted; %d unexplained alerts\n",
              restarted_at, r.faults, r.unexplained_alerts);
  // No unexplained alert, DuplicateCalculation included: Lumberjack is
  // at-least-once, and a window the stopped sluice had read (its events
  // counted by the rules and saved with their state) but not ACKed would be
  // sent again after the restart and counted twice (max_repeats: 1). The
  // shutdown reads nothing more once it begins and ACKs every window it read
  // (BeatsInputTest.ShutdownDeliversAndAcksEveryWindowItRead); before it did,
  // this failed about 1 run in 10.
  EXPECT_EQ(r.unexplained_alerts, 0) << card;
  EXPECT_GT(completed_after, 0);
  // The lost orders were due after the restart (15 minutes after `delivered`,
  // from 18m on): only the saved flows knew them.
  EXPECT_EQ(alerts_before, 0u) << "restarted at " << restarted_at << " min";
  EXPECT_GE(FiringAlerts().size(), 10u) << card;

  // None forgotten: every order created in the first 20 minutes (all of them
  // due before the end) reached the MES DB or is alerted by name.
  std::set<std::string> created, done, alerted;
  for (const std::string& l : testing::ReadLines(out)) {
    size_t p = l.find("\"order\":{\"id\":\"");
    if (p == std::string::npos) continue;
    std::string id = l.substr(p + 15, 12);
    int64_t ts = 0;
    ParseRfc3339Ms(l.substr(l.find("\"@timestamp\":\"") + 14, 24), &ts);
    if (l.find("\"action\":\"order-created\"") != std::string::npos && ts - first_ms < 20 * 60'000) created.insert(id);
    if (l.find("\"action\":\"order-status-changed\"") != std::string::npos) done.insert(id);
  }
  for (const std::string& l : FiringAlerts()) {
    size_t p = l.find("\"order_id\":\"");
    if (p != std::string::npos) alerted.insert(l.substr(p + 12, 12));
  }
  // At least dozens: the simulated run ends now, and the day shapes the
  // orders (ShopGenerator::Shape): ~1000 in these 20 minutes at 14:00 UTC,
  // ~100 at night, when a bound of 100 failed about every other run.
  EXPECT_GE(created.size(), 50u);
  std::vector<std::string> forgotten;
  for (const std::string& id : created) {
    if (!done.count(id) && !alerted.count(id)) forgotten.push_back(id);
  }
  EXPECT_TRUE(forgotten.empty()) << forgotten.size() << " forgotten, e.g. " << forgotten.front();
}

}  // namespace
}  // namespace sluice
