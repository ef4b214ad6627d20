// sluice-capacity: sizes a deployment from measurements. It reads a scenario
// (bench/scenarios/*.yml), starts sluice with a config generated from it and a
// fast bulk endpoint, steps the offered load from low to past saturation, and
// writes a Markdown report, an SVG chart and the raw figures as JSON. With
// `compare: rsyslog` the same traffic then goes through a private rsyslogd.
//
//   build/bench/capacity/sluice-capacity --scenario bench/scenarios/beats-plain.yml
//       --out bench/reports --target-rate 300000

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bench/capacity/receivers.h"
#include "bench/capacity/report.h"
#include "bench/capacity/scenario.h"
#include "bench/capacity/steps.h"
#include "bench/loadgen/load.h"
#include "bench/loadgen_event.h"

namespace capacity = sluice::bench::capacity;
namespace fs = std::filesystem;
using capacity::Protocol;

namespace {

const char kUsage[] =
    "usage: sluice-capacity --scenario FILE [--out DIR] [--target-rate EVENTS_PER_S]\n"
    "                       [--step-seconds S] [--calibrate-seconds S] [--no-compare] [--keep-work]\n"
    "                       [--sluice PATH] [--es-emulator PATH] [--rsyslogd PATH]\n"
    "  --out DIR      where <scenario>.md, .svg and .json go (default bench/reports)\n"
    "  --target-rate  the rate to size for (default: the scenario's sizing.target_events_per_second)\n";

struct Options {
  std::string scenario, out = "bench/reports";
  double target = -1, step_seconds = 0, calibrate_seconds = 0;
  bool no_compare = false, keep_work = false;
  capacity::Binaries bin;
};

std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// The scenario's events as the shipper receives them: JSON for Beats, lines for syslog.
bool MakeEvents(const capacity::Scenario& s, const Options& opt, const std::string& work, std::vector<std::string>* events,
                std::string* error) {
  const bool beats = s.protocol == Protocol::kBeats;
  switch (s.source) {
    case capacity::EventSource::kSynthetic:
      if (beats) {
        for (uint64_t n = 0; n < 8ull * s.window; ++n) events->push_back(sluice::bench::MakeEvent(n, s.event_bytes));
      } else {
        for (uint64_t i = 0; i < 20000; ++i) events->push_back(sluice::bench::SyslogLine(i));
      }
      break;
    case capacity::EventSource::kNdjson:
      *events = ReadLines(s.file);
      break;
    case capacity::EventSource::kSimulator: {
      // The simulator prints Beats events as JSON and syslog events as <PRI> lines.
      const std::string out = work + "/simulator.out";
      std::vector<std::string> argv = {opt.bin.sluice, "simulate", "--speed", "0", "--quiet", "--print",
                                       "--duration", s.simulator_duration, "--seed", std::to_string(s.simulator_seed)};
      if (!s.simulator_scenario.empty()) argv.insert(argv.end(), {"--scenario", s.simulator_scenario});
      auto sim = capacity::ChildProcess::Start(argv, out, work + "/simulator.err", error);
      if (!sim) return false;
      capacity::WaitUntil([&] { return !sim->Running(); }, 600);
      for (auto& line : ReadLines(out)) {
        if ((beats && line[0] == '{') || (!beats && line[0] == '<')) events->push_back(std::move(line));
      }
      const std::string sample = work + "/events.ndjson";
      std::ofstream keep(sample);
      for (const auto& e : *events) keep << e << "\n";
      break;
    }
  }
  if (events->empty()) {
    *error = "the scenario's event source gave no events";
    return false;
  }
  return true;
}

capacity::Traffic BuildTraffic(const capacity::Scenario& s, std::vector<std::string> events) {
  capacity::Traffic t;
  t.protocol = s.protocol;
  t.connections = s.connections;
  t.distinct_events = events.size();
  double bytes = 0;
  for (const auto& e : events) bytes += e.size();
  t.event_bytes = bytes / events.size();
  if (s.protocol == Protocol::kBeats) {
    t.beats.window = s.window;
    t.beats.pipelining = s.pipelining;
    t.beats.compression = s.compression;
    t.windows = sluice::bench::EncodeWindows(events, s.window, s.compression);
    double wire = 0;
    for (const auto& w : t.windows) wire += w.size();
    t.wire_bytes_per_event = wire / (static_cast<double>(t.windows.size()) * s.window);
  } else {
    t.lines = std::make_unique<sluice::bench::LineBuffer>(events);
    t.wire_bytes_per_event = static_cast<double>(t.lines->bytes.size()) / t.lines->lines();
  }
  return t;
}

using StartFn = std::function<std::optional<capacity::Receiver>(const std::string& dir, std::string* error)>;

// The calibration step (unless `rates` are given) on one instance of the
// shipper, then the paced steps on a fresh one, so that the memory figures of
// the steps are not those left behind by the unpaced step.
std::optional<capacity::ShipperRun> RunShipper(const std::string& name, const StartFn& start, const std::string& work,
                                               const capacity::Traffic& t, const capacity::Scenario& s,
                                               std::vector<double> rates, bool calibrate, std::string* error) {
  capacity::ShipperRun run;
  auto start_in = [&](const std::string& phase) -> std::optional<capacity::Receiver> {
    const std::string dir = work + "/" + name + "-" + phase;
    fs::create_directories(dir);
    auto r = start(dir, error);
    if (r) run.name = r->name, run.version = r->version;
    return r;
  };
  if (calibrate) {
    auto r = start_in("calibration");
    if (!r) return std::nullopt;
    capacity::StepPlan cal{"calibration", 0, s.calibrate_seconds, s.drain_seconds};
    run.steps.push_back(capacity::RunStep(*r, t, cal, std::cerr));
    if (rates.empty()) {
      for (double f : s.fractions) rates.push_back(std::round(f * run.steps.back().achieved_eps));
    }
  }
  auto r = start_in("steps");
  if (!r) return std::nullopt;
  for (size_t i = 0; i < rates.size(); ++i) {
    capacity::StepPlan plan{"step " + std::to_string(i + 1) + "/" + std::to_string(rates.size()), rates[i],
                            s.step_seconds, s.drain_seconds};
    run.steps.push_back(capacity::RunStep(*r, t, plan, std::cerr));
    const auto& st = run.steps.back();
    std::fprintf(stderr,
                 "capacity: %s offered %.0f/s: achieved %.0f/s, %.2f CPU-s per M events, %.0f events per CPU-s, "
                 "RSS %.1f MiB\n",
                 r->name.c_str(), st.offered_eps, st.achieved_eps, st.cpu_s_per_million, st.events_per_cpu_s,
                 st.rss_max_mib);
  }
  // What the rules did, and the whole /metrics kept with the work directory.
  std::string metrics;
  if (r->metrics_port && capacity::HttpGet(r->metrics_port, "/metrics", &metrics)) {
    capacity::WriteFileText(work + "/" + name + "-steps/metrics.txt", metrics);
    if (!s.rules.empty()) {
      run.has_rule_metrics = true;
      run.rule_matches = capacity::SumMetric(metrics, "sluice_rule_events_matched_total");
      run.rule_late_events = capacity::SumMetric(metrics, "sluice_rule_late_events_total");
      run.alerts_firing = capacity::SumMetric(metrics, "sluice_rule_alerts_firing");
      run.rule_state_bytes = capacity::SumMetric(metrics, "sluice_rule_state_bytes");
    }
  }
  return run;
}

std::string Machine() {
  std::string model, mem;
  std::ifstream cpu("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpu, line)) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  std::ifstream meminfo("/proc/meminfo");
  while (std::getline(meminfo, line)) {
    if (line.rfind("MemTotal:", 0) == 0) {
      mem = std::to_string(std::atol(line.c_str() + 9) / (1024 * 1024)) + " GiB";
      break;
    }
  }
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  char buf[400];
  std::snprintf(buf, sizeof buf, "%ld cores (%s), %s RAM, load average %.1f at the start", sysconf(_SC_NPROCESSORS_ONLN),
                model.c_str(), mem.c_str(), load[0]);
  return buf;
}

std::string UtcNow() {
  std::time_t now = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  return buf;
}

bool ParseArgs(int argc, char** argv, Options* o) {
  const fs::path self = fs::read_symlink("/proc/self/exe").parent_path();  // build/bench/capacity
  o->bin.sluice = (self / "../../sluice").lexically_normal().string();
  o->bin.emulator = (self / "../../tests/common/sluice-es-emulator").lexically_normal().string();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--scenario") o->scenario = next();
    else if (a == "--out") o->out = next();
    else if (a == "--target-rate") o->target = std::atof(next().c_str());
    else if (a == "--step-seconds") o->step_seconds = std::atof(next().c_str());
    else if (a == "--calibrate-seconds") o->calibrate_seconds = std::atof(next().c_str());
    else if (a == "--no-compare") o->no_compare = true;
    else if (a == "--keep-work") o->keep_work = true;
    else if (a == "--sluice") o->bin.sluice = next();
    else if (a == "--es-emulator") o->bin.emulator = next();
    else if (a == "--rsyslogd") o->bin.rsyslogd = next();
    else return false;
  }
  return !o->scenario.empty();
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!ParseArgs(argc, argv, &opt)) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  std::string error;
  auto scenario = capacity::LoadScenario(opt.scenario, &error);
  if (!scenario) {
    std::fprintf(stderr, "sluice-capacity: %s: %s\n", opt.scenario.c_str(), error.c_str());
    return 2;
  }
  capacity::Scenario& s = *scenario;
  if (opt.step_seconds > 0) s.step_seconds = opt.step_seconds;
  if (opt.calibrate_seconds > 0) s.calibrate_seconds = opt.calibrate_seconds;
  if (opt.no_compare) s.compare.clear();
  const double target = opt.target >= 0 ? opt.target : s.target_events_per_second;

  char tmpl[] = "/tmp/sluice-capacity.XXXXXX";
  if (!mkdtemp(tmpl)) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string work = tmpl;
  auto finish = [&](int code) {
    if (opt.keep_work || code != 0) std::fprintf(stderr, "sluice-capacity: work directory kept: %s\n", work.c_str());
    else fs::remove_all(work);
    return code;
  };

  std::vector<std::string> events;
  if (!MakeEvents(s, opt, work, &events, &error)) {
    std::fprintf(stderr, "sluice-capacity: %s\n", error.c_str());
    return finish(1);
  }
  const capacity::Traffic traffic = BuildTraffic(s, std::move(events));
  std::fprintf(stderr, "capacity: scenario %s: %s, %llu distinct events of %.0f bytes on average; %s\n", s.name.c_str(),
               capacity::ProtocolName(s.protocol), static_cast<unsigned long long>(traffic.distinct_events),
               traffic.event_bytes, Machine().c_str());

  std::vector<capacity::ShipperRun> runs;
  auto sluice = RunShipper("sluice", [&](const std::string& dir, std::string* e) { return capacity::StartSluice(s, opt.bin, dir, e); },
                           work, traffic, s, s.rates, s.rates.empty(), &error);
  if (!sluice) {
    std::fprintf(stderr, "sluice-capacity: %s\n", error.c_str());
    return finish(1);
  }
  runs.push_back(std::move(*sluice));
  if (s.compare == "rsyslog") {
    // The same offered rates as sluice's, so that every step compares like
    // with like; and its own calibration step for its saturation point.
    std::vector<double> rates;
    for (const auto* st : runs.front().Paced()) rates.push_back(st->offered_eps);
    auto rsyslog = RunShipper("rsyslog", [&](const std::string& dir, std::string* e) { return capacity::StartRsyslog(opt.bin, dir, e); },
                              work, traffic, s, rates, true, &error);
    if (!rsyslog) {
      std::fprintf(stderr, "sluice-capacity: %s\n", error.c_str());
      return finish(1);
    }
    runs.push_back(std::move(*rsyslog));
  }

  std::optional<capacity::Sizing> sizing;
  if (target > 0) sizing = capacity::ComputeSizing(runs.front(), target, s.headroom);
  capacity::RunInfo info;
  info.command = argv[0];
  for (int i = 1; i < argc; ++i) info.command.append(" ").append(argv[i]);
  info.date = UtcNow();
  info.machine = Machine();
  info.scenario_file = opt.scenario;
  info.distinct_events = traffic.distinct_events;
  info.event_bytes = traffic.event_bytes;
  info.wire_bytes_per_event = traffic.wire_bytes_per_event;

  fs::create_directories(opt.out);
  const std::string base = opt.out + "/" + s.name;
  const capacity::Sizing* z = sizing ? &*sizing : nullptr;
  capacity::WriteFileText(base + ".md", capacity::MarkdownReport(s, info, runs, z, s.name + ".svg"));
  capacity::WriteFileText(base + ".svg", capacity::SvgChart(s, runs));
  capacity::WriteFileText(base + ".json", capacity::JsonReport(s, info, runs, z));
  std::fprintf(stderr, "capacity: report %s.md, chart %s.svg, figures %s.json\n", base.c_str(), base.c_str(),
               base.c_str());
  if (z && z->cores > 0) {
    std::fprintf(stderr, "capacity: %.0f events/s: %d core%s, %d MiB (%.0f events per CPU-second at saturation)\n",
                 z->target_eps, z->cores, z->cores > 1 ? "s" : "", z->memory_mib, z->events_per_cpu_s);
  }
  uint64_t errors = 0;
  for (const auto& r : runs) {
    for (const auto& st : r.steps) errors += st.errors;
  }
  if (errors) std::fprintf(stderr, "sluice-capacity: %llu send errors\n", static_cast<unsigned long long>(errors));
  return finish(errors ? 1 : 0);
}
