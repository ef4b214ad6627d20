#pragma once
// The shippers under test and their bulk endpoints: sluice with a config
// generated from the scenario, and a private rsyslogd (imtcp →
// omelasticsearch) for the side-by-side mode. Each indexes into its own
// `sluice-es-emulator --fast`.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "bench/capacity/processes.h"
#include "bench/capacity/scenario.h"

namespace sluice::bench::capacity {

struct Binaries {
  std::string sluice;
  std::string emulator;  // sluice-es-emulator
  std::string rsyslogd = "rsyslogd";
};

struct BulkEndpoint {
  std::unique_ptr<ChildProcess> proc;
  int port = 0;
};

// Starts `sluice-es-emulator --fast` on a free loopback port.
std::optional<BulkEndpoint> StartBulkEndpoint(const Binaries& bin, const std::string& dir, const std::string& name,
                                              std::string* error);

// Documents the endpoint has indexed (`items_ok` of GET /_stats). False if it did not answer.
bool IndexedCount(int port, uint64_t* count);

struct Receiver {
  std::string name;  // sluice | rsyslog
  std::string version;
  BulkEndpoint es;  // declared first: the shipper stops before its endpoint
  std::unique_ptr<ChildProcess> proc;
  int input_port = 0;
  int metrics_port = 0;  // 0: no /metrics
};

// Writes <dir>/sluice.yml for the scenario and starts `sluice run` on it; returns once /healthz answers.
std::optional<Receiver> StartSluice(const Scenario& s, const Binaries& bin, const std::string& dir, std::string* error);

// Starts a private rsyslogd (own config, pid file and work directory in `dir`)
// receiving syslog over TCP and bulk-indexing with an ECS-shaped template.
std::optional<Receiver> StartRsyslog(const Binaries& bin, const std::string& dir, std::string* error);

// Sum of every series of metric `name` in a Prometheus text exposition
// (but those whose line contains `skip_label`, when given).
double SumMetric(const std::string& metrics, const std::string& name, std::string_view skip_label = {});

// Sum of the sluice_queue_bytes gauges in a /metrics text (every queue: the
// pipeline's, the outputs', the persisted queue's on disk); *max_bytes gets the
// sum of the in-memory queues' sluice_queue_max_bytes.
double QueueBytes(const std::string& metrics, double* max_bytes);

}  // namespace sluice::bench::capacity
