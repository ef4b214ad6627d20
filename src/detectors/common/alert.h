#pragma once
// Alerts and their lifecycle, as in Prometheus: a rule's condition holding for
// a group makes a pending alert; once it has held for the rule's `for:` it
// fires; when it stops holding a firing alert is resolved (a pending one is
// dropped). One alert per rule and group; its identity is its label set.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/metrics.h"

namespace sluice::detectors {

enum class AlertState : uint8_t { kPending, kFiring, kResolved };
const char* AlertStateName(AlertState s);

struct Alert {
  // alertname, severity, the group fields (dots → underscores), the rule's
  // labels; sorted by name. This is the alert's identity in Alertmanager.
  Labels labels;
  Labels annotations;
  AlertState state = AlertState::kPending;
  int64_t active_at_ms = 0;  // when the condition started to hold (event time)
  int64_t starts_at_ms = 0;  // when it fired (pending: active_at_ms)
  int64_t ends_at_ms = 0;    // when it was resolved; 0 while pending or firing
  // Evidence.
  double value = 0;          // the measured value (count, rate, size, repeats)
  double threshold = 0;      // what the value was compared with (threshold, factor × baseline, limit)
  Labels evidence;           // detector-specific facts (baseline, median, wasted_calculations, window, ...)
  std::vector<std::string> samples;  // a few raw events of the group, truncated
  std::string rule_name, rule_file, rule_hash;
  int rule_line = 0;
  uint64_t fingerprint = 0;  // hash of `labels`
  uint64_t group = 0;        // the detector's group key
};

// Where alerts go: the log, a file, later Alertmanager and the alerts index.
// Emit is called from the engine's Tick thread, once per state change.
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual void Emit(const Alert& alert) = 0;
};

// One JSON object (no trailing newline), Alertmanager-shaped: labels,
// annotations, startsAt, endsAt (RFC 3339), plus state and evidence.
std::string AlertToJson(const Alert& alert);

}  // namespace sluice::detectors
