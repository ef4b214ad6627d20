#pragma once
// The pipeline core: a byte-bounded queue of batches from every input, worker
// threads that parse each batch once (EventParser) and hand it to every sink.
// Backpressure: a full queue makes TryPush fail, so inputs stop reading their
// sockets; a full sink blocks the workers, which fills the queue.

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "pipeline/batch_queue.h"
#include "pipeline/component.h"

namespace sluice {

struct PipelineOptions {
  int workers = 0;                      // 0 = one per core
  uint64_t queue_max_bytes = 256ull << 20;
};

class Pipeline : public BatchReceiver {
 public:
  Pipeline(PipelineOptions opts, ComponentContext* ctx, std::vector<Sink*> sinks,
           std::vector<BatchObserver*> observers = {});
  ~Pipeline() override;

  void Start();
  bool TryPush(BatchPtr& batch, std::function<void()> on_space) override;
  // Waits until the queue is empty (or the deadline), then stops the workers.
  void Drain(int64_t deadline_ms);

  uint64_t queued_bytes() const { return queue_.bytes(); }

  // Replaces observer `index` (of those given to the constructor) while the
  // workers run: each worker picks it up at its next batch; a batch already
  // being observed finishes with the old one, which lives until then.
  // Register the fields the new observer reads before calling this: a worker
  // that sees the new observer also sees those fields (it reloads the observer
  // before checking the field registry's generation).
  void SetObserver(size_t index, std::shared_ptr<BatchObserver> observer);

 private:
  void WorkerLoop();
  struct WorkerParser;
  void Process(BatchPtr& batch, WorkerParser* parser);

  PipelineOptions opts_;
  ComponentContext* ctx_;
  std::vector<Sink*> sinks_;
  size_t observer_count_;
  std::unique_ptr<std::atomic<std::shared_ptr<BatchObserver>>[]> observers_;
  BatchQueue queue_;
  ComponentMetrics metrics_;
  Counter* invalid_events_;
  std::vector<std::thread> workers_;
};

}  // namespace sluice
