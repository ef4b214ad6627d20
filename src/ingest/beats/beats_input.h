#pragma once
// `type: beats`: a Lumberjack v2 server (PROTOCOLS.md §1), what Filebeat's
// `output.logstash` talks to.
//
// Each window becomes one Batch pushed to the pipeline. Its ACK (`'2' 'A'` +
// the window's last seq) is sent once every sink has the batch, strictly in
// window order; several windows of a connection can be outstanding. While a
// window waits, `ACK 0` heartbeats keep Filebeat from timing out. When the
// pipeline is full, the connection stops reading (TCP slows the client down)
// and keeps sending heartbeats.
//
// Threads: one io_context run by `threads` threads; each connection runs on its
// own strand, so a connection's state is only touched from its strand.

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/metrics.h"
#include "ingest/beats/config.h"
#include "pipeline/component.h"

namespace sluice::beats {

class BeatsInput : public Input {
 public:
  // `tls_context` is an ssl::context (opaque here to keep Asio out of this header).
  BeatsInput(BeatsInputConfig cfg, MetricsRegistry* metrics, std::shared_ptr<void> tls_context);
  ~BeatsInput() override;

  std::string_view name() const override;
  absl::Status Start(BatchReceiver* receiver) override;
  void StopAccepting() override;
  size_t held_batches() const override;
  void Stop() override;
  std::string bound_address() const override;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::beats
