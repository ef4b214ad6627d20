#pragma once
// Keeps the detectors' state consistent with the persisted queue (issue 6).
//
// Every record the persisted queue hands downstream has a sequence number
// (Batch::queue_seq). The ObserveLedger notes which of them the detectors
// have observed, so that a snapshot of the detectors can say exactly which
// records it covers (QueuePosition); after a restart the detectors load that
// snapshot and skip the records it covers, while the sinks still get every
// undelivered one. The log keeps its segments back to the position of the
// newest durable snapshot, and records the sinks delivered but the snapshot
// does not cover are replayed to the detectors only (ObserveOnly).
//
// A snapshot must not see a batch half-applied: Quiesce() waits until no
// Observe is running and holds new ones back while the state is serialised.
// The pipeline's workers call Observe through a CheckpointedObserver.
//
// After a restart, evaluations wait until the detectors observed every record
// that was in the log at start (bounded by a deadline), so that a partly
// replayed state never resolves an alert that is still firing.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "common/metrics.h"
#include "pipeline/batch.h"
#include "pipeline/component.h"
#include "pipeline/persisted_queue.h"

namespace sluice {
class EventParser;
class FieldRegistry;
}  // namespace sluice

namespace sluice::detectors {

class RuleEngine;

// Which queue records a detector snapshot covers: every sequence number below
// `below`, and those in `extra` (observed out of order). below == 0: none
// (memory queue, or no record yet).
struct QueuePosition {
  uint64_t below = 0;
  std::vector<uint64_t> extra;  // sorted, all >= below
  bool Covers(uint64_t seq) const;
};

class ObserveLedger : public QueueObserverLink {
 public:
  ObserveLedger(FieldRegistry* fields, MetricsRegistry* metrics);
  ~ObserveLedger() override;

  // Before the queue starts: what the loaded snapshot covers (skipped when
  // replayed), and the newest record in the log (evaluations wait until it
  // was observed, at most until `deadline_ms`).
  void Resume(QueuePosition covered, uint64_t last_seq_in_log, int64_t deadline_ms);
  // Called once a snapshot with `position` is durable (the queue may then
  // delete the records it covers and the sinks delivered).
  void SetOnSnapshot(std::function<void(uint64_t below)> fn) { on_snapshot_ = std::move(fn); }
  void SnapshotWritten(const QueuePosition& position);
  // The observer of the running engine (ObserveOnly hands records to it).
  void SetObserver(std::shared_ptr<BatchObserver> observer);

  // Workers: runs `observe(batch)` unless the batch is covered by the loaded
  // snapshot, and notes the record as observed.
  void Observe(const Batch& batch, BatchObserver& engine);
  // Runs `fn` while no Observe runs; returns the position it covers.
  QueuePosition Quiesce(const std::function<void()>& fn);
  // False while the replay after a restart is still being observed.
  bool ReadyToEvaluate(int64_t now_ms);

  // QueueObserverLink (the persisted queue's thread).
  void Feeding(uint64_t seq, bool observed) override;
  void ObserveOnly(BatchPtr batch) override;
  void SnapshotWanted() override { snapshot_wanted_.store(true, std::memory_order_relaxed); }
  // True once after SnapshotWanted (the engine's Tick then snapshots at once).
  bool TakeSnapshotRequest() { return snapshot_wanted_.exchange(false, std::memory_order_relaxed); }

 private:
  QueuePosition PositionLocked() const;

  std::mutex mu_;
  std::condition_variable cv_;
  int active_ = 0;          // Observe calls running
  bool quiescing_ = false;  // a snapshot waits or runs
  bool queue_attached_ = false;
  std::set<uint64_t> unobserved_;  // fed downstream, not yet observed
  uint64_t fed_hi_ = 0;            // newest record fed (or covered by the loaded snapshot)
  QueuePosition covered_;          // by the loaded snapshot: skipped
  bool holding_ = false;
  uint64_t hold_until_seq_ = 0;
  int64_t hold_deadline_ms_ = 0;
  std::function<void(uint64_t)> on_snapshot_;
  std::atomic<bool> snapshot_wanted_{false};
  // Weak: the observer holds the ledger (CheckpointedObserver), and the
  // pipeline's observer slot keeps the running one alive. A shared_ptr here
  // made a cycle that leaked the ledger, the observer and the whole engine
  // when the App was destroyed (AddressSanitizer's leak check).
  std::weak_ptr<BatchObserver> observer_;  // under mu_
  FieldRegistry* fields_;
  std::unique_ptr<EventParser> parser_;  // ObserveOnly (queue thread)
  uint64_t parser_generation_ = 0;
  Counter* skipped_ = nullptr;
  Counter* observe_only_ = nullptr;
};

// Observer 0 of the pipeline: the rules engine, through the ledger. One per
// engine (a reload makes a new one), all sharing the ledger.
class CheckpointedObserver : public BatchObserver {
 public:
  CheckpointedObserver(std::shared_ptr<RuleEngine> engine, std::shared_ptr<ObserveLedger> ledger);
  void Observe(const Batch& batch) override;

 private:
  std::shared_ptr<RuleEngine> engine_;
  std::shared_ptr<ObserveLedger> ledger_;
};

}  // namespace sluice::detectors
