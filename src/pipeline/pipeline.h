#pragma once
// The pipeline core: a byte-bounded queue of batches from every input, worker
// threads that parse each batch once (EventParser) and hand it to every sink.
// Backpressure: a full queue makes TryPush fail, so inputs stop reading their
// sockets; a full sink blocks the workers, which fills the queue.

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "pipeline/batch_queue.h"
#include "pipeline/component.h"

namespace sluice {

struct PipelineOptions {
  int workers = 0;                      // 0 = one per core
  // 64 MiB: a full queue plus the Elasticsearch sink's own 64 MiB keeps a
  // syslog backlog under rsyslog's memory (bench/RESULTS.md, issue 3); larger
  // buffers belong on disk (queue type persisted).
  uint64_t queue_max_bytes = 64ull << 20;
};

class Pipeline : public BatchReceiver {
 public:
  Pipeline(PipelineOptions opts, ComponentContext* ctx, std::vector<Sink*> sinks,
           std::vector<BatchObserver*> observers = {});
  ~Pipeline() override;

  void Start();
  bool TryPush(BatchPtr& batch, std::function<void()> on_space) override;
  // Parses the batch on the calling (input) thread and shows it to the
  // observers (the rules engine): the window the input just decoded is still
  // in its core's cache, the worker would read it from another core's
  // (run_beats.sh: +9% events per CPU-second for the parse).
  void Prepare(Batch* batch) override;
  // Waits until the queue is empty (or the deadline), then stops the workers.
  void Drain(int64_t deadline_ms);

  uint64_t queued_bytes() const { return queue_.bytes(); }

  // Replaces observer `index` (of those given to the constructor) while the
  // workers run: each worker picks it up at its next batch; a batch already
  // being observed finishes with the old one, which is freed once every
  // worker has started a batch since (workers keep their copy between batches).
  // Register the fields the new observer reads before calling this: a worker
  // that sees the new observer also sees those fields (it reloads the observer
  // before checking the field registry's generation).
  void SetObserver(size_t index, std::shared_ptr<BatchObserver> observer);

 private:
  void WorkerLoop();
  struct WorkerParser;
  void Process(BatchPtr& batch, WorkerParser* parser);
  // Parses `batch` unless it was parsed against the registry's current fields.
  void Parse(Batch* batch, WorkerParser* parser);
  // The parser's copies of the observers, renewed where SetObserver replaced one.
  void RefreshObservers(WorkerParser* parser);
  // Shows the batch to every observer and marks it observed.
  void Observe(Batch& batch, WorkerParser* parser);

  PipelineOptions opts_;
  ComponentContext* ctx_;
  std::vector<Sink*> sinks_;
  // A version counter read once per batch (one atomic load); the mutex only
  // when it changed. (std::atomic<std::shared_ptr> in libstdc++ 12 unlocks its
  // load with a relaxed store: ThreadSanitizer reports it, and rightly so in
  // the abstract memory model.)
  struct ObserverSlot {
    std::mutex mu;
    std::shared_ptr<BatchObserver> observer;
    std::atomic<uint64_t> version{0};
  };
  size_t observer_count_;
  std::unique_ptr<ObserverSlot[]> observers_;
  BatchQueue queue_;
  ComponentMetrics metrics_;
  Counter* invalid_events_;
  std::vector<std::thread> workers_;
  // Parsers for Prepare, one per input thread calling it at the same time.
  std::mutex prepare_mu_;
  std::vector<std::unique_ptr<WorkerParser>> prepare_parsers_;
};

}  // namespace sluice
