#pragma once
// The syslog input (`type: syslog`): UDP (recvmmsg), TCP with RFC 6587 framing
// detected per frame, and TLS (RFC 5425). Each read becomes one batch of ECS
// JSON events (ecs_writer.h).
//
// Delivery: syslog has no acknowledgements. Once sluice has read bytes from a
// TCP connection the sender considers them delivered, so the TCP read is the
// only "safe" point; an event is at risk if sluice dies before its batch
// reaches the sinks. Backpressure: when the pipeline queue is full, a
// connection stops reading (TCP flow control slows the sender). UDP cannot be
// slowed: datagrams the kernel drops are counted as discarded (`udp_overflow`).

#include <memory>
#include <string>

#include "ingest/syslog/config.h"
#include "pipeline/component.h"

namespace sluice::syslog {

class SyslogInput : public Input {
 public:
  SyslogInput(std::shared_ptr<const SyslogInputConfig> cfg, MetricsRegistry* metrics);
  ~SyslogInput() override;

  std::string_view name() const override;
  absl::Status Start(BatchReceiver* receiver) override;
  void StopAccepting() override;
  size_t held_batches() const override;
  void Stop() override;
  std::string bound_address() const override;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::syslog
