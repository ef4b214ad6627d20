#pragma once
// A simulation scenario (YAML): the company's traffic and the faults to
// inject, each at a time offset from the start (simulated time).
//
//   name: lost-orders
//   start: 2026-11-23T08:00:00Z    # simulated start (default: so that the run ends now — sluice
//                                   # clamps event times more than 5 minutes ahead of its clock)
//   duration: 2h                    # simulated length (--duration overrides)
//   orders_per_hour: 600            # at the daily peak (14:00); the day shapes it
//   requests_per_second: 30         # background API traffic at the peak
//   faults:
//     - type: lost_orders           # orders vanish after reaching `stage`
//       at: 10m
//       duration: 20m
//       stage: delivered            # created | published | delivered | model_stored | calculated
//       fraction: 0.5               # of the orders created in the window (default 1)
//       count: 10                   # at most (default: no limit)
//     - {type: duplicate_calculation, at: 30m, count: 3, repeats: 4}
//     - {type: oversize_model, at: 40m, size: 3GiB}
//     - {type: request_storm, at: 50m, duration: 5m, service: shop-api, rate: 300}
//     - {type: silent, at: 60m, duration: 10m, service: mes-api}
//     - {type: fatal_burst, at: 70m, duration: 1m, service: mes-core, count: 30}
//     - {type: failed_calculations, at: 80m, count: 5}
//
// Every fault may set `expected_alert` (the alert a detector should raise;
// each type has a default: the rules of rules/shop/, see DefaultExpectedAlert)
// and `side_effect_alerts` (other alerts the fault may rightly raise too, e.g.
// RequestRateSpike beside RequestStorm; see DefaultSideEffectAlerts).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sluice::simulator {

enum class FaultType { kLostOrders, kDuplicateCalculation, kOversizeModel, kRequestStorm, kSilent, kFatalBurst,
                       kFailedCalculations };
const char* FaultTypeName(FaultType t);
const char* DefaultExpectedAlert(FaultType t);
std::vector<std::string> DefaultSideEffectAlerts(FaultType t);

struct Fault {
  FaultType type = FaultType::kLostOrders;
  int64_t at_ms = 0;        // offset from the scenario start
  int64_t duration_ms = 0;  // 0: a point in time
  std::string service;      // request_storm, silent, fatal_burst
  std::string stage;        // lost_orders
  double fraction = 1;      // lost_orders
  int64_t count = 0;        // lost_orders (0: no limit), duplicate_calculation, fatal_burst, failed_calculations
  int64_t repeats = 3;      // duplicate_calculation
  uint64_t size_bytes = 0;  // oversize_model
  double rate = 0;          // request_storm: requests/s
  std::string expected_alert;
  std::vector<std::string> side_effect_alerts;
  int line = 0;
};

struct Scenario {
  std::string name = "default";
  int64_t start_ms = 0;  // 0: the run ends at the current time (ShopGenerator resolves it)
  int64_t duration_ms = 3'600'000;
  double orders_per_hour = 600;
  double requests_per_second = 30;
  std::vector<Fault> faults;
};

// The order stages as the simulator names them (lost_orders.stage).
const std::vector<std::string>& OrderStages();

// Parses a scenario; errors are `file:line: problem`, all of them at once.
absl::StatusOr<Scenario> ParseScenario(const std::string& yaml, const std::string& name);
absl::StatusOr<Scenario> LoadScenarioFile(const std::string& path);

}  // namespace sluice::simulator
