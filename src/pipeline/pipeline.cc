#include "pipeline/pipeline.h"

#include <algorithm>

#include "common/log.h"
#include "common/timeutil.h"
#include "pipeline/dead_letter.h"
#include "pipeline/event_parser.h"

namespace sluice {

Pipeline::Pipeline(PipelineOptions opts, ComponentContext* ctx, std::vector<Sink*> sinks,
                   std::vector<BatchObserver*> observers)
    : opts_(opts),
      ctx_(ctx),
      sinks_(std::move(sinks)),
      observer_count_(observers.size()),
      observers_(std::make_unique<ObserverSlot[]>(observers.size())),
      queue_(opts.queue_max_bytes),
      metrics_(ctx->metrics, "pipeline", "pipeline"),
      invalid_events_(metrics_.Errors("invalid_json")) {
  ctx_->metrics->AddCallbackGauge("sluice_queue_bytes", "Bytes held in the pipeline queue.", {{"queue", "pipeline"}},
                                  [this] { return static_cast<double>(queue_.bytes()); });
  ctx_->metrics->AddCallbackGauge("sluice_queue_max_bytes", "Capacity of the pipeline queue in bytes.",
                                  {{"queue", "pipeline"}}, [this] { return static_cast<double>(queue_.max_bytes()); });
  // Observers given here are not owned.
  for (size_t i = 0; i < observers.size(); ++i) {
    observers_[i].observer = std::shared_ptr<BatchObserver>(observers[i], [](BatchObserver*) {});
    observers_[i].version.store(1);
  }
}

void Pipeline::SetObserver(size_t index, std::shared_ptr<BatchObserver> observer) {
  if (index >= observer_count_) return;
  ObserverSlot& slot = observers_[index];
  std::lock_guard<std::mutex> l(slot.mu);
  slot.observer = std::move(observer);
  slot.version.fetch_add(1, std::memory_order_release);
}

// A worker's parser, rebuilt when the field registry grows (a rules reload).
struct Pipeline::WorkerParser {
  uint64_t generation = 0;
  size_t field_count = 0;
  std::unique_ptr<EventParser> parser;
  std::vector<std::shared_ptr<BatchObserver>> observers;  // this worker's copies
  std::vector<uint64_t> versions;                         // of these

  void Refresh(const FieldRegistry& fields) {
    if (parser && fields.generation() == generation) return;
    auto paths = fields.Snapshot(&generation);
    field_count = paths->size();
    parser = std::make_unique<EventParser>(*paths);
  }
};

Pipeline::~Pipeline() {
  queue_.Close();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
}

void Pipeline::Start() {
  int n = opts_.workers > 0 ? opts_.workers : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

bool Pipeline::TryPush(BatchPtr& batch, std::function<void()> on_space) {
  return queue_.TryPush(batch, std::move(on_space));
}

void Pipeline::Prepare(Batch* batch) {
  if (batch->size() == 0 || batch->parsed_generation == ctx_->fields->generation() + 1) return;
  std::unique_ptr<WorkerParser> parser;
  {
    std::lock_guard<std::mutex> l(prepare_mu_);
    if (!prepare_parsers_.empty()) {
      parser = std::move(prepare_parsers_.back());
      prepare_parsers_.pop_back();
    }
  }
  if (!parser) parser = std::make_unique<WorkerParser>();
  if (batch->received_ms == 0) batch->received_ms = NowMs();
  // The detectors see the batch here too, right after the parse, while its
  // bytes and fields are still in this core's cache (on a worker they come
  // from another core's). Observers first, then the registry, as in Process.
  const bool observe = !batch->internal && !batch->observed && observer_count_ > 0;
  if (observe) RefreshObservers(parser.get());
  Parse(batch, parser.get());
  if (observe) {
    Observe(*batch, parser.get());
    // No copies kept between batches: a replaced observer is freed once the
    // workers moved on (SetObserver), not when this parser is used again.
    for (auto& o : parser->observers) o.reset();
    std::fill(parser->versions.begin(), parser->versions.end(), 0);
  }
  std::lock_guard<std::mutex> l(prepare_mu_);
  prepare_parsers_.push_back(std::move(parser));
}

void Pipeline::RefreshObservers(WorkerParser* parser) {
  parser->observers.resize(observer_count_);
  parser->versions.resize(observer_count_, 0);
  for (size_t i = 0; i < observer_count_; ++i) {
    ObserverSlot& slot = observers_[i];
    if (slot.version.load(std::memory_order_acquire) == parser->versions[i]) continue;
    std::lock_guard<std::mutex> l(slot.mu);
    parser->observers[i] = slot.observer;
    parser->versions[i] = slot.version.load(std::memory_order_relaxed);
  }
}

void Pipeline::Observe(Batch& batch, WorkerParser* parser) {
  for (size_t i = 0; i < observer_count_; ++i) {
    if (parser->observers[i]) parser->observers[i]->Observe(batch);
  }
  batch.observed = true;
}

void Pipeline::Parse(Batch* batch, WorkerParser* parser) {
  parser->Refresh(*ctx_->fields);
  if (batch->parsed_generation == parser->generation + 1) return;
  if (batch->trusted_json && parser->field_count == 0) {
    batch->ResizeFields(0);  // nothing to extract: skip the simdjson pass (bench/RESULTS.md, syslog)
  } else {
    parser->parser->ParseBatch(batch);
  }
  batch->parsed_generation = parser->generation + 1;
}

void Pipeline::WorkerLoop() {
  AdviseThreadHeapForHugePages();  // parser buffers, bulk bodies (batch.h)
  WorkerParser parser;
  BatchPtr batch;
  while (queue_.Pop(&batch)) {
    Process(batch, &parser);
    batch.reset();
  }
}

void Pipeline::Process(BatchPtr& batch, WorkerParser* parser) {
  if (batch->received_ms == 0) batch->received_ms = NowMs();
  // Observers first, then the registry: a new observer's fields were
  // registered before it was published, so this batch extracts them.
  const bool observe = !batch->internal && !batch->observed;
  if (observe) RefreshObservers(parser);
  Parse(batch.get(), parser);
  metrics_.received_events->Inc(batch->size());
  size_t invalid = 0;
  for (const Event& e : batch->events()) {
    if (!(e.flags & kEventInvalid)) continue;
    ++invalid;
    // Kept, not lost: the event goes to the dead-letter queue with the reason,
    // and the window is still ACKed so the client does not resend it forever.
    absl::Status s = ctx_->dead_letters->Write(batch->source, batch->error(e.error), batch->Raw(e), batch->peer);
    if (!s.ok()) SLUICE_LOG_ERROR("pipeline", "dead-letter write failed: ", s.message());
  }
  if (invalid) {
    invalid_events_->Inc(invalid);
    metrics_.dead_lettered_events->Inc(invalid);
  }
  if (observe) Observe(*batch, parser);
  metrics_.sent_events->Inc(batch->size() - invalid);
  batch->AddHolds(static_cast<int>(sinks_.size()));
  for (Sink* s : sinks_) s->Submit(batch);
  batch->Release();  // the input's hold
}

void Pipeline::Drain(int64_t deadline_ms) {
  queue_.WaitEmpty(std::max<int64_t>(0, deadline_ms - NowMs()));
  queue_.Close();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

}  // namespace sluice
