#include "pipeline/persisted_queue.h"

#include <algorithm>
#include <cstring>

#include "common/strings.h"
#include "common/timeutil.h"

namespace sluice {

namespace {

constexpr uint8_t kFormatVersion = 1;
constexpr uint8_t kFlagTrustedJson = 1;
constexpr uint8_t kFlagInternal = 2;

void PutU32(std::string* out, uint32_t v) { out->append(reinterpret_cast<const char*>(&v), 4); }
void PutI64(std::string* out, int64_t v) { out->append(reinterpret_cast<const char*>(&v), 8); }

// Reads little-endian integers and length-prefixed strings with bounds checks.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool U8(uint8_t* v) {
    if (s_.size() < 1) return false;
    *v = static_cast<uint8_t>(s_[0]);
    s_.remove_prefix(1);
    return true;
  }
  bool U32(uint32_t* v) { return Fixed(v, 4); }
  bool I64(int64_t* v) { return Fixed(v, 8); }
  bool Bytes(size_t n, std::string_view* v) {
    if (s_.size() < n) return false;
    *v = s_.substr(0, n);
    s_.remove_prefix(n);
    return true;
  }
  bool String(std::string* v) {
    uint32_t n;
    std::string_view b;
    if (!U32(&n) || !Bytes(n, &b)) return false;
    v->assign(b);
    return true;
  }
  size_t left() const { return s_.size(); }

 private:
  template <typename T>
  bool Fixed(T* v, size_t n) {
    if (s_.size() < n) return false;
    std::memcpy(v, s_.data(), n);
    s_.remove_prefix(n);
    return true;
  }
  std::string_view s_;
};

}  // namespace

void SerializeBatch(const Batch& b, std::string* out) {
  out->push_back(static_cast<char>(kFormatVersion));
  out->push_back(static_cast<char>((b.trusted_json ? kFlagTrustedJson : 0) | (b.internal ? kFlagInternal : 0)));
  PutI64(out, b.received_ms);
  PutU32(out, static_cast<uint32_t>(b.source.size()));
  out->append(b.source);
  PutU32(out, static_cast<uint32_t>(b.peer.size()));
  out->append(b.peer);
  PutU32(out, static_cast<uint32_t>(b.size()));
  size_t total = 0;
  for (const Event& e : b.events()) {
    PutU32(out, e.length);
    total += e.length;
  }
  out->reserve(out->size() + total);
  for (const Event& e : b.events()) out->append(b.Raw(e));
}

BatchPtr DeserializeBatch(std::string_view payload) {
  Reader r(payload);
  uint8_t version, flags;
  int64_t received_ms;
  auto b = std::make_shared<Batch>();
  uint32_t n;
  if (!r.U8(&version) || version != kFormatVersion || !r.U8(&flags) || !r.I64(&received_ms) ||
      !r.String(&b->source) || !r.String(&b->peer) || !r.U32(&n) || n > r.left() / 4) {
    return nullptr;
  }
  std::vector<uint32_t> lengths(n);
  uint64_t total = 0;
  for (uint32_t& l : lengths) {
    if (!r.U32(&l)) return nullptr;
    total += l;
  }
  if (total != r.left()) return nullptr;
  b->arena().reserve(total + 64);  // room for simdjson's padding (EventParser grows it otherwise)
  for (uint32_t l : lengths) {
    std::string_view ev;
    r.Bytes(l, &ev);
    b->Append(ev);
  }
  b->received_ms = received_ms;
  b->trusted_json = flags & kFlagTrustedJson;
  b->internal = flags & kFlagInternal;
  return b;
}

PersistedQueueOptions ReadPersistedQueueOptions(ConfigMap& q, const std::string& data_dir,
                                                uint64_t* memory_queue_bytes) {
  PersistedQueueOptions o;
  o.dir = data_dir + "/queue";
  o.max_bytes = q.Bytes("max_bytes", o.max_bytes, 1 << 20);
  o.segment_bytes = q.Bytes("segment_bytes", o.segment_bytes, 64 << 10);
  o.sync_every_batch = q.Enum("sync", "batch", {"batch", "interval"}) == "batch";
  o.sync_interval_ms = q.DurationMs("sync_interval", o.sync_interval_ms, 1);
  // memory_bytes: what the persisted queue path may hold in memory, whatever
  // the backlog on disk: half for the pipeline's memory queue behind it, a
  // quarter each for batches waiting to be written and in-memory copies of
  // written batches waiting to go downstream.
  const uint64_t memory = q.Bytes("memory_bytes", 64ull << 20, 1 << 20);
  *memory_queue_bytes = memory / 2;
  o.pending_bytes = memory / 4;
  o.memory_bytes = memory / 4;
  if (o.segment_bytes * 2 > o.max_bytes) {
    q.Error("segment_bytes", StrCat("must be at most half of max_bytes (", o.max_bytes,
                                    " bytes): a delivered segment is deleted only once the next one is started"));
  }
  return o;
}

void PersistedQueue::Tracker::Delivered(uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = std::lower_bound(inflight.begin(), inflight.end(), seq,
                             [](const std::pair<uint64_t, bool>& p, uint64_t s) { return p.first < s; });
  if (it == inflight.end() || it->first != seq) return;
  it->second = true;
  if (it == inflight.begin()) {
    wake = true;
    cv.notify_all();
  }
}

absl::StatusOr<std::unique_ptr<PersistedQueue>> PersistedQueue::Open(PersistedQueueOptions opts,
                                                                     MetricsRegistry* metrics) {
  std::unique_ptr<PersistedQueue> q(new PersistedQueue(std::move(opts), metrics));
  DiskLogOptions lo;
  lo.dir = q->opts_.dir;
  lo.segment_bytes = q->opts_.segment_bytes;
  lo.max_bytes = q->opts_.max_bytes;
  lo.retain_from = q->opts_.detectors_from;
  auto log = DiskLog::Open(lo, &q->recovery_);
  if (!log.ok()) return log.status();
  q->log_ = std::move(*log);
  const DiskLogRecovery& r = q->recovery_;
  for (const std::string& m : r.messages) SLUICE_LOG_WARN("queue", "persisted queue recovery: ", m);
  if (r.records) {
    SLUICE_LOG_INFO("queue", "persisted queue ", q->opts_.dir, ": ", r.records,
                    " undelivered records to replay (", q->log_->bytes(), " bytes on disk)");
  }
  const Labels labels = {{"queue", "persisted"}};
  metrics->GetCounter("sluice_queue_recovered_records", "Undelivered records found in the persisted queue at start.",
                      labels)->Inc(r.records);
  metrics->GetCounter("sluice_queue_corrupt_bytes_total", "Corrupt bytes skipped in the persisted queue at start.",
                      labels)->Inc(r.corrupt_bytes);
  metrics->GetCounter("sluice_queue_torn_tail_bytes_total",
                      "Bytes of a torn tail cut off the persisted queue at start.", labels)->Inc(r.torn_tail_bytes);
  q->appended_records_ = metrics->GetCounter("sluice_queue_appended_records_total",
                                             "Batches written to the persisted queue.", labels);
  q->full_total_ = metrics->GetCounter("sluice_queue_full_total",
                                       "Appends refused because the persisted queue or its disk was full.", labels);
  q->read_errors_ = metrics->GetCounter("sluice_queue_read_errors_total",
                                        "Records of the persisted queue that could not be read back (skipped).",
                                        labels);
  auto stats = q->stats_;
  metrics->AddCallbackGauge("sluice_queue_bytes", "Bytes held in the queue.", labels,
                            [stats] { return static_cast<double>(stats->disk_bytes.load()); });
  metrics->AddCallbackGauge("sluice_queue_records", "Records (batches) not yet delivered by every sink.", labels,
                            [stats] { return static_cast<double>(stats->records.load()); });
  const double max_bytes = static_cast<double>(q->opts_.max_bytes);
  metrics->AddCallbackGauge("sluice_queue_max_bytes", "Capacity of the queue in bytes.", labels,
                            [max_bytes] { return max_bytes; });
  q->next_feed_ = q->log_->committed();
  q->last_seq_at_open_ = q->log_->next_seq() - 1;
  q->UpdateGauges();
  return q;
}

PersistedQueue::~PersistedQueue() { Close(); }

void PersistedQueue::Start(BatchReceiver* downstream) {
  downstream_ = downstream;
  last_commit_ms_ = NowMs();
  last_sync_ms_ = 0;  // sync: interval — the first write after a quiet spell is synced at once
  tracker_->wake = true;  // the first round replays what the log holds
  thread_ = std::thread([this] { Run(); });
}

bool PersistedQueue::full() const {
  std::lock_guard<std::mutex> lock(tracker_->mu);
  return full_;
}

bool PersistedQueue::TryPush(BatchPtr& batch, std::function<void()> on_space) {
  Tracker& t = *tracker_;
  if (batch->arena().size() + 4 * batch->size() + 1024 > opts_.max_bytes / 2) {
    // A record this large might never fit next to the segment being written:
    // rather than wedge the queue, this batch goes the memory-queue way (its
    // input's ACK waits for the sinks).
    log_limit_.Warn("queue", "persisted queue: a batch of ", batch->arena().size(), " bytes from ", batch->source,
                    " is more than half of max_bytes (", opts_.max_bytes, "): delivered without persisting it");
    return downstream_->TryPush(batch, std::move(on_space));
  }
  const uint64_t bytes = batch->MemoryBytes();
  std::lock_guard<std::mutex> lock(t.mu);
  if (!accepting_ || full_ || (!pending_.empty() && pending_bytes_ + bytes > opts_.pending_bytes)) {
    if (on_space) input_waiters_.push_back(std::move(on_space));
    return false;
  }
  Pending p;
  p.on_safe = batch->TakeOnSafe();
  p.batch = std::move(batch);
  p.bytes = bytes;
  pending_.push_back(std::move(p));
  pending_bytes_ += bytes;
  t.wake = true;
  t.cv.notify_all();
  return true;
}

void PersistedQueue::StopAccepting(int64_t deadline_ms) {
  Tracker& t = *tracker_;
  std::unique_lock<std::mutex> lock(t.mu);
  accepting_ = false;
  feeding_ = false;
  t.wake = true;
  t.cv.notify_all();
  if (!thread_.joinable()) return;
  // The queue thread notifies after every round. On a full disk the batches
  // still pending are given up at once (not ACKed: the clients send them again)
  // so that the sinks keep the shutdown time to deliver.
  while (!((pending_.empty() || full_) && !writing_ && flushed_)) {
    if (t.done_cv.wait_until(lock, std::chrono::system_clock::time_point(std::chrono::milliseconds(deadline_ms))) ==
        std::cv_status::timeout) {
      break;
    }
  }
  if (!pending_.empty()) {
    SLUICE_LOG_WARN("queue", "persisted queue: ", pending_.size(),
                    " accepted batches could not be written before shutdown (not acknowledged)");
  }
}

void PersistedQueue::Close() {
  Tracker& t = *tracker_;
  {
    std::lock_guard<std::mutex> lock(t.mu);
    accepting_ = false;
    feeding_ = false;
    stop_ = true;
    t.wake = true;
    t.cv.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void PersistedQueue::RetainFrom(uint64_t seq) {
  retain_request_.store(seq, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(tracker_->mu);
  tracker_->wake = true;
  tracker_->cv.notify_all();
}

void PersistedQueue::ReplayToDetectors() {
  // Delivered records the detectors' snapshot does not cover (the sinks were
  // ahead of the last snapshot): parsed and observed, not delivered again.
  const uint64_t end = log_->committed();
  uint64_t seq = log_->first_readable();
  if (!link_ || seq >= end) return;
  const uint64_t from = seq;
  uint64_t n = 0;
  std::string payload;
  while (seq < end) {
    uint64_t found = 0;
    absl::StatusOr<bool> ok = log_->Read(seq, &found, &payload);
    if (!ok.ok()) {
      read_errors_->Inc();
      log_limit_.Warn("queue", "persisted queue: skipping record ", seq, " for the detectors: ",
                      MessageOf(ok.status().message()));
      ++seq;
      continue;
    }
    if (!*ok || found >= end) break;
    seq = found + 1;
    BatchPtr b = DeserializeBatch(payload);
    if (!b) {
      read_errors_->Inc();
      continue;
    }
    b->queue_seq = found;
    link_->ObserveOnly(std::move(b));
    ++n;
  }
  SLUICE_LOG_INFO("queue", "persisted queue: replayed ", n, " delivered records (", from, " to ", end - 1,
                  ") to the detectors, which had not saved them");
}

void PersistedQueue::ApplyRetention() {
  const uint64_t r = retain_request_.load(std::memory_order_relaxed);
  if (r == 0 || r == retain_applied_) return;
  retain_applied_ = r;
  const uint64_t before = log_->bytes();
  log_->SetRetainFrom(r);
  if (log_->bytes() < before) {
    std::lock_guard<std::mutex> lock(tracker_->mu);
    if (full_) {
      last_retry_ms_ = 0;  // segments were deleted: try the paused appends now
      tracker_->wake = true;
    }
  }
}

void PersistedQueue::Run() {
  Tracker& t = *tracker_;
  ReplayToDetectors();
  for (;;) {
    std::deque<Pending> todo;
    bool stopping, feeding;
    {
      std::unique_lock<std::mutex> lock(t.mu);
      const int64_t now = NowMs();
      int64_t wait_ms = 1000;
      if (!unsynced_.empty()) wait_ms = std::min(wait_ms, last_sync_ms_ + opts_.sync_interval_ms - now);
      if (full_) wait_ms = std::min(wait_ms, last_retry_ms_ + opts_.retry_interval_ms - now);
      if (commit_due_) wait_ms = std::min(wait_ms, last_commit_ms_ + opts_.commit_interval_ms - now);
      // At least 1 ms: a deadline that passed while a sync kept failing must not spin.
      t.cv.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(wait_ms, 1)), [&] { return t.wake || stop_; });
      t.wake = false;
      stopping = stop_;
      feeding = feeding_;
      const bool retry_due = full_ && NowMs() >= last_retry_ms_ + opts_.retry_interval_ms;
      if (!pending_.empty() && (!full_ || retry_due)) {
        todo.swap(pending_);
        writing_ = true;
      }
    }
    if (!todo.empty()) WritePending(&todo);
    SyncIfDue(stopping || !feeding);
    CommitIfDue(stopping);
    if (feeding && !stopping) Feed();
    UpdateGauges();

    std::vector<std::function<void()>> wake_inputs;
    {
      std::lock_guard<std::mutex> lock(t.mu);
      writing_ = false;
      flushed_ = unsynced_.empty();
      if (accepting_ && !full_ && pending_bytes_ < opts_.pending_bytes) wake_inputs.swap(input_waiters_);
      t.done_cv.notify_all();
    }
    for (auto& fn : wake_inputs) fn();
    if (stopping) break;
  }
  CommitIfDue(/*force=*/true);
  UpdateGauges();
}

void PersistedQueue::WritePending(std::deque<Pending>* todo) {
  size_t i = 0;
  uint64_t written_bytes = 0;
  absl::Status error;
  for (; i < todo->size(); ++i) {
    Pending& p = (*todo)[i];
    buf_.clear();
    SerializeBatch(*p.batch, &buf_);
    absl::StatusOr<uint64_t> seq = log_->Append(buf_);
    if (!seq.ok()) {
      error = seq.status();
      break;
    }
    appended_records_->Inc();
    unsynced_.push_back({*seq, std::move(p.on_safe)});
    written_bytes += p.bytes;
    // Keep the batch in memory for the feed while that stays contiguous and small.
    const uint64_t expect = fresh_.empty() ? next_feed_ : fresh_.back().first + 1;
    if (*seq == expect && fresh_bytes_ + p.bytes <= opts_.memory_bytes) {
      fresh_bytes_ += p.bytes;
      fresh_.emplace_back(*seq, std::move(p.batch));
    }
    p.batch.reset();
  }
  Tracker& t = *tracker_;
  std::lock_guard<std::mutex> lock(t.mu);
  pending_bytes_ -= written_bytes;
  if (i < todo->size()) {
    if (!full_) {
      SLUICE_LOG_ERROR("queue", "persisted queue ", opts_.dir, ": cannot write (", MessageOf(error.message()),
                       "); inputs are paused until there is room, retrying every ", opts_.retry_interval_ms, " ms");
    } else {
      log_limit_.Warn("queue", "persisted queue ", opts_.dir, " still full: ", MessageOf(error.message()));
    }
    full_total_->Inc();
    full_ = true;
    // Delivered records kept for the detectors may be what fills it.
    if (link_ && log_->first_readable() < log_->committed()) link_->SnapshotWanted();
    last_retry_ms_ = NowMs();
    for (size_t k = todo->size(); k > i; --k) pending_.push_front(std::move((*todo)[k - 1]));
  } else if (full_) {
    full_ = false;
    SLUICE_LOG_INFO("queue", "persisted queue ", opts_.dir, ": writing again, inputs resumed");
  }
}

void PersistedQueue::SyncIfDue(bool force) {
  if (unsynced_.empty()) return;
  const int64_t now = NowMs();
  if (!opts_.sync_every_batch && !force && now < last_sync_ms_ + opts_.sync_interval_ms) return;
  if (absl::Status s = log_->Sync(); !s.ok()) {
    log_limit_.Warn("queue", "persisted queue: sync failed, not acknowledging yet: ", MessageOf(s.message()));
    return;
  }
  last_sync_ms_ = now;
  for (Unsynced& u : unsynced_) {
    if (u.on_safe) u.on_safe();  // the input's: on disk now, ACK it
  }
  unsynced_.clear();
}

void PersistedQueue::CommitIfDue(bool force) {
  Tracker& t = *tracker_;
  ApplyRetention();
  uint64_t to;
  {
    std::lock_guard<std::mutex> lock(t.mu);
    while (!t.inflight.empty() && t.inflight.front().second) t.inflight.pop_front();
    to = next_ ? next_seq_ : next_feed_;
    if (!t.inflight.empty()) to = std::min(to, t.inflight.front().first);
  }
  commit_due_ = false;
  if (to <= log_->committed()) return;
  const int64_t now = NowMs();
  bool is_full;
  {
    std::lock_guard<std::mutex> lock(t.mu);
    is_full = full_;
  }
  if (!force && !is_full && now < last_commit_ms_ + opts_.commit_interval_ms) {
    commit_due_ = true;
    return;
  }
  last_commit_ms_ = now;
  const uint64_t before = log_->bytes();
  if (absl::Status s = log_->Commit(to); !s.ok()) {
    log_limit_.Warn("queue", "persisted queue: checkpoint not written (delivered records may be replayed after a ",
                    "restart): ", MessageOf(s.message()));
  }
  if (is_full && log_->bytes() < before) {
    std::lock_guard<std::mutex> lock(t.mu);
    last_retry_ms_ = 0;  // segments were deleted: try the paused appends now
    t.wake = true;
  }
}

bool PersistedQueue::NextBatch() {
  if (next_) return true;
  while (!fresh_.empty() && fresh_.front().first < next_feed_) {
    fresh_bytes_ -= fresh_.front().second->MemoryBytes();
    fresh_.pop_front();
  }
  if (!fresh_.empty() && fresh_.front().first == next_feed_) {
    next_seq_ = fresh_.front().first;
    next_ = std::move(fresh_.front().second);
    fresh_bytes_ -= next_->MemoryBytes();
    fresh_.pop_front();
    next_feed_ = next_seq_ + 1;
    return true;
  }
  std::string payload;
  while (next_feed_ < log_->next_seq()) {
    uint64_t found = 0;
    absl::StatusOr<bool> ok = log_->Read(next_feed_, &found, &payload);
    if (!ok.ok()) {
      read_errors_->Inc();
      log_limit_.Warn("queue", "persisted queue: skipping record ", next_feed_, ": ", MessageOf(ok.status().message()));
      ++next_feed_;
      continue;
    }
    if (!*ok) {
      next_feed_ = log_->next_seq();
      return false;
    }
    BatchPtr b = DeserializeBatch(payload);
    if (!b) {
      read_errors_->Inc();
      log_limit_.Warn("queue", "persisted queue: skipping record ", found, ": not a batch record");
      next_feed_ = found + 1;
      continue;
    }
    next_ = std::move(b);
    next_seq_ = found;
    next_feed_ = found + 1;
    return true;
  }
  return false;
}

void PersistedQueue::Feed() {
  Tracker& t = *tracker_;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(t.mu);
      if (t.downstream_blocked || !feeding_) return;
      t.space_signaled = false;
    }
    if (!NextBatch()) return;
    const uint64_t seq = next_seq_;
    next_->SetOnSafe([tracker = tracker_, seq] { tracker->Delivered(seq); });
    next_->queue_seq = seq;
    if (link_) link_->Feeding(seq, !next_->internal);
    {
      std::lock_guard<std::mutex> lock(t.mu);
      t.inflight.emplace_back(seq, false);
    }
    auto on_space = [tracker = tracker_] {
      std::lock_guard<std::mutex> lock(tracker->mu);
      tracker->space_signaled = true;
      tracker->downstream_blocked = false;
      tracker->wake = true;
      tracker->cv.notify_all();
    };
    if (downstream_->TryPush(next_, on_space)) {
      next_.reset();
      continue;
    }
    std::lock_guard<std::mutex> lock(t.mu);
    t.inflight.pop_back();
    if (!t.space_signaled) {
      t.downstream_blocked = true;
      return;
    }
  }
}

void PersistedQueue::UpdateGauges() {
  stats_->disk_bytes.store(log_->bytes(), std::memory_order_relaxed);
  stats_->records.store(log_->pending_records(), std::memory_order_relaxed);
  stats_->committed.store(log_->committed(), std::memory_order_relaxed);
}

}  // namespace sluice
