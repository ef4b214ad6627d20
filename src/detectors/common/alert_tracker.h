#pragma once
// The alert state machine of one rule: pending for `for:`, firing, resolved;
// one alert per group. Fed by each evaluation with the groups whose condition
// holds. Used from one thread (the engine's Tick).

#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "detectors/common/alert.h"
#include "detectors/common/detector.h"
#include "detectors/common/state_io.h"

namespace sluice::detectors {

class AlertTracker {
 public:
  explicit AlertTracker(const RuleSpec* spec) : spec_(spec) {}

  using SampleFn = std::function<std::vector<std::string>(uint64_t group)>;
  // One evaluation at event time `eval_ms`: emits every state change to `sink`.
  void Update(int64_t eval_ms, std::vector<GroupResult>& active, AlertSink* sink, const SampleFn& samples);

  // Resolves every firing alert (its rule is gone) and forgets the pending
  // ones; returns how many were resolved.
  size_t ResolveAll(int64_t eval_ms, AlertSink* sink);

  bool Has(uint64_t group) const { return alerts_.contains(group); }
  size_t firing() const;
  size_t pending() const { return alerts_.size() - firing(); }
  // Copies of the pending and firing alerts.
  void Snapshot(std::vector<Alert>* out) const;

  // Saved state (issue 6, alert_tracker_state.cc): the pending and firing
  // alerts, so that a restart neither fires them again nor forgets to
  // resolve them. LoadState replaces the alerts; false if the blob is damaged
  // (nothing loaded).
  void SaveState(StateWriter& w) const;
  bool LoadState(StateReader& r);
  // Counts state changes (emitted or a pending alert dropped): the engine
  // saves the alerts when this moved.
  uint64_t changes() const { return changes_; }

 private:
  struct Entry {
    Alert alert;
    uint64_t seen = 0;
  };
  Alert NewAlert(const GroupResult& r, int64_t eval_ms) const;
  void Render(Alert* a) const;

  const RuleSpec* spec_;
  absl::flat_hash_map<uint64_t, Entry> alerts_;
  uint64_t generation_ = 0;
  uint64_t changes_ = 0;
};

// Label names in alerts: `service.name` → `service_name`.
std::string LabelName(std::string_view field_path);

}  // namespace sluice::detectors
