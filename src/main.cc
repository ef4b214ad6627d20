// The sluice command line: run, check, version (and later test, simulate, dlq).

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/log.h"
#include "detectors/rule_test_runner.h"
#include "simulator/scorecard.h"
#include "pipeline/app.h"
#include "pipeline/dlq_tool.h"
#include "simulator/simulator.h"

#include <iostream>

namespace {

int Usage(FILE* out) {
  std::fprintf(out,
               "usage: sluice <command> [options]\n"
               "\n"
               "commands:\n"
               "  run [--config FILE]     run the pipeline (no --config: the embedded default,\n"
               "                          Beats on 127.0.0.1:5044 to ./data/out/events.ndjson)\n"
               "  check --config FILE     validate the config and exit non-zero on errors\n"
               "  test RULE_TEST_FILE...  run rule unit tests (see rules/tests/)\n"
               "  dlq list|show|replay --config FILE   the dead-letter queue\n"
               "  simulate [options]      play the 3D-print shop's logs with injected faults\n"
               "  scorecard --truth F --alerts F  injected faults against the alerts raised\n"
               "                          (--help for the options)\n"
               "  print-default-config    print the embedded default config\n"
               "  version                 print the version\n");
  return out == stderr ? 2 : 0;
}

std::string FlagValue(const std::vector<std::string>& args, const std::string& flag) {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == flag) return args[i + 1];
  }
  for (const auto& a : args) {
    if (a.rfind(flag + "=", 0) == 0) return a.substr(flag.size() + 1);
  }
  return "";
}

int Run(const std::vector<std::string>& args) {
  std::string config = FlagValue(args, "--config");
  auto app = config.empty() ? sluice::App::Load(sluice::kEmbeddedDefaultConfig, "<embedded default>", false)
                            : sluice::App::LoadFile(config, false);
  if (!app.ok()) {
    std::fprintf(stderr, "%s\n", std::string(app.status().message()).c_str());
    return 1;
  }
  // Signals are taken synchronously by this thread; every other thread blocks them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  if (auto s = (*app)->Start(); !s.ok()) {
    std::fprintf(stderr, "sluice: %s\n", std::string(s.message()).c_str());
    (*app)->Shutdown();
    return 1;
  }
  SLUICE_LOG_INFO("app", "sluice ", SLUICE_VERSION, " running", config.empty() ? " on the embedded default config" : "");
  for (;;) {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig == SIGHUP) {
      // Rules only; the outcome is logged and counted by ReloadRules.
      SLUICE_LOG_INFO("app", "SIGHUP: reloading the rule files");
      (void)(*app)->ReloadRules();
      continue;
    }
    SLUICE_LOG_INFO("app", "received ", strsignal(sig));
    break;
  }
  (*app)->Shutdown();
  return 0;
}

int Simulate(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::fputs(sluice::simulator::kSimulateUsage, stdout);
      return 0;
    }
  }
  sluice::simulator::SimulatorOptions opts;
  std::string error;
  if (!sluice::simulator::ParseSimulateArgs(args, &opts, &error)) {
    std::fprintf(stderr, "sluice simulate: %s\n%s", error.c_str(), sluice::simulator::kSimulateUsage);
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  sluice::simulator::SimulatorResult result;
  if (auto s = sluice::simulator::RunSimulation(opts, std::cerr, &result); !s.ok()) {
    std::fprintf(stderr, "sluice simulate: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}

int Check(const std::vector<std::string>& args) {
  std::string config = FlagValue(args, "--config");
  if (config.empty()) {
    std::fprintf(stderr, "sluice check: --config FILE is required\n");
    return 2;
  }
  auto app = sluice::App::LoadFile(config, true);
  if (!app.ok()) {
    std::fprintf(stderr, "%s\n", std::string(app.status().message()).c_str());
    return 1;
  }
  std::printf("%s: OK (%zu inputs, %zu outputs, %zu rules)\n", config.c_str(), (*app)->inputs().size(),
              (*app)->sinks().size(), (*app)->rules() ? (*app)->rules()->rule_count() : size_t{0});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  sluice::ConfigureAllocator();  // malloc tuned for batches (pipeline/batch.h)
  if (argc < 2) return Usage(stderr);
  std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (cmd == "run") return Run(args);
  if (cmd == "check") return Check(args);
  if (cmd == "simulate") return Simulate(args);
  if (cmd == "dlq") return sluice::RunDlqCommand(args, std::cout, std::cerr);
  if (cmd == "scorecard") {
    std::string truth = FlagValue(args, "--truth"), alerts = FlagValue(args, "--alerts");
    if (truth.empty() || alerts.empty()) {
      std::fprintf(stderr, "usage: sluice scorecard --truth TRUTH.ndjson --alerts ALERTS.ndjson\n");
      return 2;
    }
    auto r = sluice::simulator::WriteScorecard(truth, alerts, std::cout);
    return r.faults > 0 && r.caught == r.faults ? 0 : 1;
  }
  if (cmd == "test") {
    if (args.empty()) {
      std::fprintf(stderr, "sluice test: give one or more rule test files\n");
      return 2;
    }
    return sluice::detectors::RunRuleTestFiles(args, std::cout);
  }
  if (cmd == "version" || cmd == "--version") {
    std::printf("sluice %s\n", SLUICE_VERSION);
    return 0;
  }
  if (cmd == "print-default-config") {
    std::fputs(sluice::kEmbeddedDefaultConfig, stdout);
    return 0;
  }
  if (cmd == "help" || cmd == "--help" || cmd == "-h") return Usage(stdout);
  std::fprintf(stderr, "sluice: unknown command \"%s\"\n", cmd.c_str());
  return Usage(stderr);
}
