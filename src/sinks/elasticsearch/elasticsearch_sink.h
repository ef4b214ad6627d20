#pragma once
// `type: elasticsearch`: delivers events with the `_bulk` API (PROTOCOLS.md §3).
//
// Data path: pipeline workers call Submit(); the batch's events are encoded
// (action line + document, one memcpy) into the open bulk request under a
// short lock. A request is sealed when it reaches batch_max_events or
// batch_max_bytes, after flush_interval, or when nothing was added to it for
// flush_idle (a sender waiting for its ACK adds nothing more); sealed requests are gzipped (if
// configured) by the thread that sealed them and sent by one I/O thread over
// up to max_in_flight keep-alive connections (round-robin over `hosts`).
//
// Delivery (DESIGN.md §3): every event ends delivered (2xx, or 409 on create =
// already there) or dead-lettered (per-item 4xx, or alone and still rejected as
// a whole with 400/413). 429, 5xx, connection loss and timeouts are retried with
// exponential backoff and jitter, only the failed items. 413 (and 400) on a
// whole request split it in half. 401/403 are retried and logged loudly. A
// batch is released exactly once, when all its events reached an end.
//
// Backpressure: Submit() blocks while the batches held pass max_queue_bytes.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "common/metrics.h"
#include "pipeline/component.h"
#include "sinks/elasticsearch/bulk_encoder.h"
#include "sinks/elasticsearch/config.h"

namespace sluice {

class ElasticsearchSink : public Sink {
 public:
  ElasticsearchSink(std::shared_ptr<const EsSinkConfig> cfg, ComponentContext& ctx);
  ~ElasticsearchSink() override;

  std::string_view name() const override { return cfg_->id; }
  absl::Status Start() override;
  void Submit(BatchPtr batch) override;
  void Stop(int64_t deadline_ms) override;
  size_t queued_bytes() const override;

  // For tests and the admin endpoint.
  uint64_t duplicates() const { return duplicates_->value(); }
  // Batches submitted and not yet released.
  size_t held_batches() const;
  // The spare body buffers' capacities (at most max_queue_bytes / 4).
  size_t pooled_body_bytes() const;

 private:
  struct PendingBatch;
  struct Item {
    uint32_t slot;   // index into BulkRequest::batches
    uint32_t event;  // index into the batch's events
    bool create;
  };
  struct BulkRequest {
    std::vector<std::shared_ptr<PendingBatch>> batches;
    std::vector<Item> items;
    std::string body;          // as sent (gzip when compressed)
    size_t raw_bytes = 0;      // uncompressed size
    bool gzip = false;
    int attempt = 0;           // failed attempts so far
    int64_t not_before_ms = 0; // steady clock
  };
  struct Conn;
  struct Host {
    int64_t down_until_ms = 0;
    int failures = 0;
  };

  // Submit side.
  void SealLocked(std::vector<std::unique_ptr<BulkRequest>>* sealed);
  void Prepare(BulkRequest* r);
  void Enqueue(std::vector<std::unique_ptr<BulkRequest>> reqs, bool front = false);

  // I/O thread.
  void Tick();
  void Dispatch();
  std::unique_ptr<BulkRequest> NextRequest();
  void StartRequest(Conn* c);
  void Connect(Conn* c);
  void Send(Conn* c);
  void OnResponse(Conn* c, int status, std::string* body);
  void OnTransportError(Conn* c, const std::string& what, bool timeout);
  void CloseConn(Conn* c);
  void FinishConn(Conn* c);
  size_t PickHost(size_t previous);

  // Delivery bookkeeping.
  void Resolve(BulkRequest* r, const Item& it);
  // `events` items of the batch in `slot` reached an end; the last one releases it.
  void Resolve(BulkRequest* r, uint32_t slot, uint32_t events);
  // Every item of `r` was delivered.
  void ResolveAll(BulkRequest* r);
  void ReturnBody(std::string body);
  void ScheduleRetry(std::unique_ptr<BulkRequest> r, std::string_view reason);
  std::unique_ptr<BulkRequest> Subset(const BulkRequest& r, const std::vector<uint32_t>& which);
  void SplitOrDeadLetter(std::unique_ptr<BulkRequest> r, int status, std::string_view detail);
  bool DeadLetter(BulkRequest* r, const Item& it, std::string_view reason);
  int64_t Backoff(int attempt);
  Counter* StatusCounter(int status);

  std::shared_ptr<const EsSinkConfig> cfg_;
  DeadLetterQueue* dlq_;
  BulkEncoder encoder_;
  ComponentMetrics metrics_;
  Counter* duplicates_;
  Histogram* latency_;
  std::map<int, Counter*> status_counters_;  // I/O thread only

  struct Io;
  std::unique_ptr<Io> io_;
  std::thread thread_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<Host> hosts_;
  size_t next_host_ = 0;
  std::string target_suffix_;  // "/_bulk?filter_path=..."
  BulkResponseParser response_parser_;
  std::vector<BulkItemResult> item_results_;
  std::minstd_rand rng_{12345};
  RateLimitedLog warn_log_;
  RateLimitedLog auth_log_{3, std::chrono::seconds(30)};

  // Encoding (Submit threads, the flush tick).
  std::mutex enc_mu_;
  std::unique_ptr<BulkRequest> open_;
  int64_t open_since_ms_ = 0;
  int64_t last_append_ms_ = 0;  // when the open request last grew

  // Queues and accounting.
  mutable std::mutex mu_;
  std::condition_variable space_cv_;
  std::condition_variable done_cv_;
  std::deque<std::unique_ptr<BulkRequest>> ready_;
  std::vector<std::unique_ptr<BulkRequest>> retry_;
  uint64_t held_bytes_ = 0;
  size_t held_batches_ = 0;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace sluice
