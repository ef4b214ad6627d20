#pragma once
// `sluice simulate`: plays the shop's generated logs (generator.h) into a
// sluice — or a Logstash — over Lumberjack v2 (Beats) and syslog over TCP,
// paced in simulated time, and writes the ground truth of the injected faults.
//
//   sluice simulate --scenario rules/scenarios/lost-orders.yml --beats 127.0.0.1:5044
//       --syslog 127.0.0.1:5514 --speed 60 --seed 7 --truth truth.ndjson
//
// --speed N: N simulated seconds per real second (0: as fast as the receiver
// takes them). Event @timestamps are simulated time. Without --beats/--syslog
// that channel's events are generated and counted but not sent.
//
// Ground truth (NDJSON, one object per injected fault or affected order):
//   {"scenario":"lost-orders","fault":"lost_orders","start":"2026-...Z","end":"2026-...Z"|null,
//    "key":"ORD-00000042"|"mes-api"|"","expected_alert":"OrderStuck","scenario_line":12,
//    ...type-specific: "stage","expected_stage","service","model_sha256","repeats","file_size"}

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "simulator/generator.h"

namespace sluice::simulator {

struct SimulatorOptions {
  std::string scenario_file;  // empty: a default day without faults
  std::string beats;          // HOST:PORT
  std::string syslog;         // HOST:PORT
  std::string truth_file;     // empty: no ground truth written
  int64_t duration_ms = 0;    // 0: the scenario's
  double speed = 60;          // simulated seconds per real second; 0: unpaced
  uint64_t seed = 1;
  int window = 1024;          // events per Lumberjack window
  int compression = 3;
  bool progress = true;       // a status line on stderr every second
  int retry_seconds = 60;     // reconnect and resend for this long before giving up
  bool print = false;         // also print every event on stdout (beats JSON or syslog line)
};

struct SimulatorResult {
  GeneratorStats stats;
  uint64_t windows = 0;
  uint64_t reconnects = 0;
  double wall_seconds = 0;
  double events_per_second = 0;
};

// Parses `sluice simulate` arguments. Returns false with *error on a bad one.
bool ParseSimulateArgs(const std::vector<std::string>& args, SimulatorOptions* opts, std::string* error);
extern const char kSimulateUsage[];

// Runs a whole scenario. `progress` gets the live status lines (stderr in the CLI).
absl::Status RunSimulation(const SimulatorOptions& opts, std::ostream& progress, SimulatorResult* result);

}  // namespace sluice::simulator
