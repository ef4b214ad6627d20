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
      observers_(std::move(observers)),
      queue_(opts.queue_max_bytes),
      metrics_(ctx->metrics, "pipeline", "pipeline"),
      invalid_events_(metrics_.Errors("invalid_json")) {
  ctx_->metrics->AddCallbackGauge("sluice_queue_bytes", "Bytes held in the pipeline queue.", {{"queue", "pipeline"}},
                                  [this] { return static_cast<double>(queue_.bytes()); });
  ctx_->metrics->AddCallbackGauge("sluice_queue_max_bytes", "Capacity of the pipeline queue in bytes.",
                                  {{"queue", "pipeline"}}, [this] { return static_cast<double>(queue_.max_bytes()); });
}

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

void Pipeline::WorkerLoop() {
  EventParser parser(ctx_->fields->paths());
  BatchPtr batch;
  while (queue_.Pop(&batch)) {
    Process(batch, &parser);
    batch.reset();
  }
}

void Pipeline::Process(BatchPtr& batch, EventParser* parser) {
  if (batch->received_ms == 0) batch->received_ms = NowMs();
  parser->ParseBatch(batch.get());
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
  for (BatchObserver* o : observers_) o->Observe(*batch);
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
