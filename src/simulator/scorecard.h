#pragma once
// `sluice scorecard --truth TRUTH.ndjson --alerts ALERTS.ndjson`: compares what
// the simulator injected (its ground truth) with the alerts sluice raised.
//
// Each injected fault with a key (an order id or a service) is caught when an
// alert with the expected name fired that names the key in one of its labels
// (order_id, service_name, ...), or — for rules that group by service, which
// cannot name one order — an alert with the expected name that fired within
// `window_ms` after the fault started (or up to a third of it before: one
// alert per service covers several faults). The delay is the alert's startsAt minus
// the fault's start, both in event time. A rule grouped by service only
// explains a fault of the same service (`service_name` label vs the fault's
// `service`). A firing alert that is not the expected one of any fault but is
// one of a fault's `side_effect_alerts` (matched the same way) is listed as a
// side effect of that fault: the same trouble seen by a broader rule. Every
// other firing alert is listed as unexplained (a false positive, or a fault
// the simulator did not announce).

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace sluice::simulator {

struct ScorecardRow {
  std::string fault, key, expected_alert;
  bool caught = false;
  int64_t delay_ms = 0;  // alert startsAt - fault start (event time); negative: already firing
};

struct ScorecardResult {
  int faults = 0;
  int caught = 0;
  int side_effect_alerts = 0;
  int unexplained_alerts = 0;
  std::vector<ScorecardRow> rows;  // one per injected fault, in truth order
};

// Writes the scorecard to `out`; returns its totals. Errors (unreadable
// files) are written to `out` too and leave totals at zero.
ScorecardResult WriteScorecard(const std::string& truth_path, const std::string& alerts_path, std::ostream& out,
                               int64_t window_ms = 30 * 60'000);

}  // namespace sluice::simulator
