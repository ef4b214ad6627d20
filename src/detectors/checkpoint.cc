#include "detectors/checkpoint.h"

#include <algorithm>

#include "common/log.h"
#include "detectors/rule_engine.h"
#include "pipeline/event_parser.h"

namespace sluice::detectors {

bool QueuePosition::Covers(uint64_t seq) const {
  return seq < below || std::binary_search(extra.begin(), extra.end(), seq);
}

ObserveLedger::ObserveLedger(FieldRegistry* fields, MetricsRegistry* metrics) : fields_(fields) {
  skipped_ = metrics->GetCounter("sluice_rules_replay_skipped_records_total",
                                 "Replayed queue records the detectors' loaded snapshot already covered.");
  observe_only_ = metrics->GetCounter(
      "sluice_rules_replay_observed_records_total",
      "Records delivered before a restart but not covered by the detectors' snapshot, replayed to the detectors only.");
}

ObserveLedger::~ObserveLedger() = default;

void ObserveLedger::Resume(QueuePosition covered, uint64_t last_seq_in_log, int64_t deadline_ms) {
  std::lock_guard<std::mutex> l(mu_);
  queue_attached_ = true;
  covered_ = std::move(covered);
  fed_hi_ = covered_.below > 0 ? covered_.below - 1 : 0;
  holding_ = last_seq_in_log > fed_hi_;
  hold_until_seq_ = last_seq_in_log;
  hold_deadline_ms_ = deadline_ms;
}

void ObserveLedger::SetObserver(std::shared_ptr<BatchObserver> observer) {
  std::lock_guard<std::mutex> l(mu_);
  observer_ = std::move(observer);
}

void ObserveLedger::Observe(const Batch& batch, BatchObserver& engine) {
  const uint64_t seq = batch.queue_seq;
  {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [this] { return !quiescing_; });
    ++active_;
  }
  // covered_ only changes in Resume, before the queue feeds anything.
  if (seq != 0 && covered_.Covers(seq)) {
    skipped_->Inc();
  } else {
    engine.Observe(batch);
  }
  std::lock_guard<std::mutex> l(mu_);
  --active_;
  if (seq != 0) unobserved_.erase(seq);
  if (quiescing_ && active_ == 0) cv_.notify_all();
}

QueuePosition ObserveLedger::Quiesce(const std::function<void()>& fn) {
  {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [this] { return !quiescing_; });
    quiescing_ = true;
    cv_.wait(l, [this] { return active_ == 0; });
  }
  // Feeding may still add records meanwhile: they are not observed, so the
  // position stays what the serialised state covers.
  fn();
  std::lock_guard<std::mutex> l(mu_);
  QueuePosition p = PositionLocked();
  quiescing_ = false;
  cv_.notify_all();
  return p;
}

QueuePosition ObserveLedger::PositionLocked() const {
  QueuePosition p;
  if (!queue_attached_) return p;
  p.below = unobserved_.empty() ? fed_hi_ + 1 : *unobserved_.begin();
  // Observed out of order (another worker still has an older batch).
  for (uint64_t s = p.below + 1; s <= fed_hi_; ++s) {
    if (!unobserved_.contains(s)) p.extra.push_back(s);
  }
  // Covered by the loaded snapshot and not replayed yet.
  for (uint64_t s : covered_.extra) {
    if (s > fed_hi_ && s >= p.below) p.extra.push_back(s);
  }
  std::sort(p.extra.begin(), p.extra.end());
  size_t n = 0;
  while (n < p.extra.size() && p.extra[n] == p.below) ++n, ++p.below;
  p.extra.erase(p.extra.begin(), p.extra.begin() + static_cast<ptrdiff_t>(n));
  return p;
}

void ObserveLedger::SnapshotWritten(const QueuePosition& position) {
  if (on_snapshot_ && position.below > 0) on_snapshot_(position.below);
}

bool ObserveLedger::ReadyToEvaluate(int64_t now_ms) {
  std::lock_guard<std::mutex> l(mu_);
  if (!holding_) return true;
  if (fed_hi_ >= hold_until_seq_ && (unobserved_.empty() || *unobserved_.begin() > hold_until_seq_)) {
    holding_ = false;
    SLUICE_LOG_INFO("rules", "detectors caught up with the persisted queue (record ", hold_until_seq_,
                    "): evaluating rules");
    return true;
  }
  if (now_ms >= hold_deadline_ms_) {
    holding_ = false;
    SLUICE_LOG_WARN("rules", "detectors still replaying the persisted queue (", unobserved_.size(),
                    " records waiting, up to record ", hold_until_seq_, "): evaluating rules anyway");
    return true;
  }
  return false;
}

void ObserveLedger::Feeding(uint64_t seq, bool observed) {
  std::lock_guard<std::mutex> l(mu_);
  queue_attached_ = true;
  fed_hi_ = std::max(fed_hi_, seq);
  if (observed) unobserved_.insert(seq);
}

void ObserveLedger::ObserveOnly(BatchPtr batch) {
  const uint64_t seq = batch->queue_seq;
  Feeding(seq, !batch->internal);
  if (batch->internal) return;
  std::shared_ptr<BatchObserver> observer;
  {
    std::lock_guard<std::mutex> l(mu_);
    observer = observer_.lock();
    if (!observer) {
      unobserved_.erase(seq);
      return;
    }
  }
  if (!parser_ || fields_->generation() != parser_generation_) {
    auto paths = fields_->Snapshot(&parser_generation_);
    parser_ = std::make_unique<EventParser>(*paths);
  }
  parser_->ParseBatch(batch.get());
  observe_only_->Inc();
  observer->Observe(*batch);
}

CheckpointedObserver::CheckpointedObserver(std::shared_ptr<RuleEngine> engine, std::shared_ptr<ObserveLedger> ledger)
    : engine_(std::move(engine)), ledger_(std::move(ledger)) {}

void CheckpointedObserver::Observe(const Batch& batch) { ledger_->Observe(batch, *engine_); }

}  // namespace sluice::detectors
