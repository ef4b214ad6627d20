#pragma once
// `pipeline.queue.type: persisted` (issue 6): the inputs' batches go to an
// append-only log on disk (DiskLog) before anything else, and "safe" for the
// input (the Beats ACK) means "on disk, synced per the `sync` policy", not
// "delivered by every sink".
//
//   input ──TryPush──▶ pending (memory, bounded) ──queue thread──▶ DiskLog.Append
//                                                                    │ Sync ──▶ input's on-safe (ACK)
//   downstream (the Pipeline's memory queue) ◀──feed, in sequence order──┘
//   sinks release ──▶ record delivered ──▶ contiguous prefix ──▶ DiskLog.Commit
//
// One queue thread owns the DiskLog (which is not thread-safe): it appends,
// syncs, runs the inputs' on-safe callbacks, feeds the records downstream in
// sequence order and commits the delivered prefix (which deletes delivered
// segments). The batch given downstream is the input's own batch while it is
// still in memory (and the in-memory copies stay under `memory_bytes`), else
// it is read back from the log: during a long outage of a sink the log grows
// on disk while memory stays flat.
//
// Full: past `max_bytes` or on a full disk (ENOSPC), TryPush refuses (the
// inputs stop reading, Beats clients get heartbeats), an error is logged
// (rate-limited), appends are retried every `retry_interval_ms` and after every
// commit, and the inputs are woken when the queue takes batches again.
//
// On start, every record not yet delivered is replayed downstream before new
// input. A torn tail or corrupt records are reported, never fatal.
//
// A batch larger than max_bytes / 2 is not persisted (it could wedge the
// queue): it goes downstream directly and its input is ACKed by the sinks.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/log.h"
#include "common/metrics.h"
#include "pipeline/component.h"
#include "pipeline/disk_log.h"

namespace sluice {

struct PersistedQueueOptions {
  std::string dir;                       // <data_dir>/queue
  uint64_t max_bytes = 1ull << 30;       // on disk
  uint64_t segment_bytes = 64ull << 20;
  bool sync_every_batch = true;          // sync: batch (default) | interval
  int64_t sync_interval_ms = 100;
  // Memory: batches accepted but not yet written, and in-memory copies of
  // written batches waiting to go downstream (config `memory_bytes` / 4 each).
  uint64_t pending_bytes = 16ull << 20;
  uint64_t memory_bytes = 16ull << 20;
  int64_t retry_interval_ms = 1000;      // appends retried this often when full
  int64_t commit_interval_ms = 100;      // the checkpoint is written at most this often
  // The detectors' snapshot covers the records below this (0: no snapshot):
  // delivered records from here on are kept and replayed to the detectors.
  uint64_t detectors_from = 0;
};

// The rules' side of the queue (issue 6, detectors/checkpoint.h): told which
// records go downstream, and given the records the sinks delivered before a
// restart but the detectors' snapshot does not cover.
class QueueObserverLink {
 public:
  virtual ~QueueObserverLink() = default;
  // Record `seq` goes downstream now; `observed`: the detectors will see it
  // (not an internal batch). Called before the batch is handed on.
  virtual void Feeding(uint64_t seq, bool observed) = 0;
  // A delivered record for the detectors only (queue thread, at start, in
  // sequence order, before anything is fed).
  virtual void ObserveOnly(BatchPtr batch) = 0;
  // The queue is full while it keeps delivered records for the detectors: a
  // snapshot now would let them go (RetainFrom).
  virtual void SnapshotWanted() {}
};

// Reads the persisted queue's keys of `pipeline.queue` (type already read).
// `memory_queue_bytes` gets the bound of the pipeline's memory queue behind it.
PersistedQueueOptions ReadPersistedQueueOptions(ConfigMap& q, const std::string& data_dir,
                                                uint64_t* memory_queue_bytes);

// The payload of one log record: a batch's events and origin.
//   u8 version (1) | u8 flags (1 trusted_json, 2 internal) | i64 received_ms |
//   u32 len + source | u32 len + peer | u32 n | n x u32 event length | event bytes
// Integers little-endian.
void SerializeBatch(const Batch& b, std::string* out);
// Returns nullptr if `payload` is not a valid record.
BatchPtr DeserializeBatch(std::string_view payload);

class PersistedQueue : public BatchReceiver {
 public:
  // Opens (and recovers) the log; the recovery is logged and counted.
  static absl::StatusOr<std::unique_ptr<PersistedQueue>> Open(PersistedQueueOptions opts, MetricsRegistry* metrics);
  ~PersistedQueue() override;

  // Before Start: the detectors' link (none: records are only delivered).
  void SetObserverLink(QueueObserverLink* link) { link_ = link; }
  // Starts the queue thread; records go to `downstream` (the Pipeline).
  // Records the detectors' snapshot misses are first replayed to the link.
  void Start(BatchReceiver* downstream);
  // A detectors' snapshot covering the records below `seq` is durable:
  // delivered records from `seq` on are still kept, older ones may go.
  // Thread-safe.
  void RetainFrom(uint64_t seq);
  // The newest record in the log at start (0: none).
  uint64_t last_seq_at_open() const { return last_seq_at_open_; }
  bool TryPush(BatchPtr& batch, std::function<void()> on_space) override;

  // First step of shutdown: refuses new batches, writes and syncs what was
  // accepted (running the inputs' on-safe callbacks), stops feeding
  // downstream. Waits until then at most until `deadline_ms`.
  void StopAccepting(int64_t deadline_ms);
  // Last step, after the sinks stopped: commits what was delivered, joins.
  void Close();

  // For tests and gauges (approximate, updated by the queue thread).
  uint64_t disk_bytes() const { return stats_->disk_bytes.load(std::memory_order_relaxed); }
  uint64_t records() const { return stats_->records.load(std::memory_order_relaxed); }
  uint64_t committed_seq() const { return stats_->committed.load(std::memory_order_relaxed); }
  bool full() const;
  const DiskLogRecovery& recovery() const { return recovery_; }

 private:
  struct Pending {
    BatchPtr batch;
    std::function<void()> on_safe;  // the input's
    uint64_t bytes;
  };
  struct Unsynced {
    uint64_t seq;
    std::function<void()> on_safe;
  };
  // What the sinks' releases reach; shared so late releases after Close are harmless.
  struct Tracker {
    std::mutex mu;
    std::condition_variable cv;       // wakes the queue thread
    std::condition_variable done_cv;  // the queue thread finished a round
    std::deque<std::pair<uint64_t, bool>> inflight;  // fed downstream, in seq order: (seq, delivered)
    bool wake = false;
    bool downstream_blocked = false;  // refused by downstream, waiting for its on_space
    bool space_signaled = false;
    void Delivered(uint64_t seq);
  };

  PersistedQueue(PersistedQueueOptions opts, MetricsRegistry* metrics) : opts_(std::move(opts)), metrics_(metrics) {}
  void Run();
  void WritePending(std::deque<Pending>* todo);
  void SyncIfDue(bool force);
  void CommitIfDue(bool force);
  void Feed();
  void ReplayToDetectors();
  void ApplyRetention();
  bool NextBatch();  // loads next_ for next_feed_; false if none
  void UpdateGauges();

  const PersistedQueueOptions opts_;
  MetricsRegistry* metrics_;
  std::unique_ptr<DiskLog> log_;
  DiskLogRecovery recovery_;
  BatchReceiver* downstream_ = nullptr;
  QueueObserverLink* link_ = nullptr;
  uint64_t last_seq_at_open_ = 0;
  std::atomic<uint64_t> retain_request_{0};  // RetainFrom
  uint64_t retain_applied_ = 0;
  std::shared_ptr<Tracker> tracker_ = std::make_shared<Tracker>();
  std::thread thread_;

  // Guarded by tracker_->mu (one lock for the queue's shared state).
  std::deque<Pending> pending_;
  uint64_t pending_bytes_ = 0;
  std::vector<std::function<void()>> input_waiters_;
  bool full_ = false;
  bool accepting_ = true;
  bool feeding_ = true;
  bool stop_ = false;
  bool writing_ = false;  // the queue thread holds taken pending batches
  bool flushed_ = false;  // after the last round nothing written was waiting for a sync

  // Queue thread only.
  std::vector<Unsynced> unsynced_;
  std::deque<std::pair<uint64_t, BatchPtr>> fresh_;  // written, in memory, contiguous from next_feed_
  uint64_t fresh_bytes_ = 0;
  uint64_t next_feed_ = 1;
  BatchPtr next_;  // the batch for next_feed_, refused downstream once
  uint64_t next_seq_ = 0;
  int64_t last_sync_ms_ = 0, last_commit_ms_ = 0, last_retry_ms_ = 0;
  bool commit_due_ = false;
  std::string buf_;

  struct Stats {
    std::atomic<uint64_t> disk_bytes{0}, records{0}, committed{0};
  };
  std::shared_ptr<Stats> stats_ = std::make_shared<Stats>();  // read by the gauges
  Counter* appended_records_ = nullptr;
  Counter* full_total_ = nullptr;
  Counter* read_errors_ = nullptr;
  RateLimitedLog log_limit_{3, std::chrono::seconds(10)};
};

}  // namespace sluice
