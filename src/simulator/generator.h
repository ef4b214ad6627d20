#pragma once
// The 3D-printing shop's logs, generated in simulated time: what Filebeat
// would ship from the Shop API, CRM API, MES (API and calculation workers),
// the 3D model storage, RabbitMQ and the two PostgreSQL databases, and what
// the databases and RabbitMQ send over syslog — with the faults of a
// Scenario injected and recorded as ground truth.
//
// Beats events (JSON, Filebeat-shaped) carry:
//   @timestamp (simulated time), @metadata.beat, agent.*, host.name, ecs.version,
//   service.name   shop-api | crm-api | mes-api | mes-core | storage-3d | rabbitmq | shop-db | mes-db
//   log.level      FATAL | WARN | INFO | TRACE
//   event.action   http-request | order-created | published | delivered | acked | dead-lettered |
//                  calculation-requested | model-stored | model-read | calculation-stage |
//                  calculation-completed | calculation-failed | order-status-changed | worker-crashed | debug
//   event.dataset, event.duration (ns), message
//   order.id, trace.id              on everything about an order
//   url.path, http.request.method, http.response.status_code, http.response.bytes,
//   session.id, client.ip           access logs (event.action: http-request)
//   file.size, model.sha256         calculation-requested, model-stored, model-read
//   calculation.stage (1..3)        calculation-stage
//   rabbitmq.queue, rabbitmq.exchange   RabbitMQ events
//   order.status                    order-created, order-status-changed
// Syslog lines (RFC 5424, facility local0): PostgreSQL (statements of order
// writes with [order@32473 id="..."], slow queries, deadlocks, connections)
// and RabbitMQ (connections, queue alarms).
//
// An order's stages (rules/shop/orders.yml follows them, with the calculation stages): created (shop-db
// order-created) → published (rabbitmq) → delivered (rabbitmq, to the MES) →
// model_stored (storage-3d) → calculated (mes-core calculation-completed) →
// status_changed (mes-db order-status-changed).
//
// Deterministic: the same scenario and seed give the same events, however
// GenerateUntil is called (events are spawned one simulated second at a time).

#include <cstdint>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "simulator/scenario.h"

namespace sluice::simulator {

struct SimEvent {
  enum Channel : uint8_t { kBeats, kSyslog };
  int64_t ts_ms = 0;
  Channel channel = kBeats;
  std::string text;  // beats: one JSON object; syslog: one RFC 5424 message without newline
};

struct GeneratorStats {
  uint64_t beats_events = 0, syslog_events = 0, suppressed_events = 0;
  uint64_t orders = 0, orders_completed = 0;
  uint64_t faults_started = 0, truth_records = 0;
};

class ShopGenerator {
 public:
  ShopGenerator(Scenario scenario, uint64_t seed);
  // Holds pointers into its scenario's faults.
  ShopGenerator(const ShopGenerator&) = delete;
  ShopGenerator& operator=(const ShopGenerator&) = delete;

  // Appends the events with simulated time < until_ms (and < the scenario's
  // end), in time order, and the ground-truth records (NDJSON lines, no
  // newline) of what was injected up to then.
  void GenerateUntil(int64_t until_ms, std::vector<SimEvent>* events, std::vector<std::string>* truth);
  bool done() const { return emitted_until_ >= end_ms(); }

  int64_t start_ms() const { return sc_.start_ms; }
  int64_t end_ms() const { return sc_.start_ms + sc_.duration_ms; }
  const Scenario& scenario() const { return sc_; }
  const GeneratorStats& stats() const { return stats_; }

 private:
  struct Pending {
    int64_t ts;
    uint64_t seq;
    uint8_t service;
    SimEvent::Channel channel;
    std::string text;
    bool operator>(const Pending& o) const { return ts != o.ts ? ts > o.ts : seq > o.seq; }
  };

  void SpawnSecond(int64_t sec_ms, std::vector<std::string>* truth);
  void SpawnOrder(int64_t t0, std::vector<std::string>* truth);
  void SpawnRequest(int64_t t, uint8_t service, const std::string& session, const std::string& ip);
  void SpawnInfraNoise(int64_t t);
  void StartFault(const Fault& f, std::vector<std::string>* truth);
  void Push(int64_t ts, uint8_t service, SimEvent::Channel ch, std::string text);
  bool Silenced(uint8_t service, int64_t ts) const;
  double Shape(int64_t t) const;  // daily traffic shape, 0..1
  std::string Hex(int n);
  std::string TruthRecord(const Fault& f, int64_t start, int64_t end, const std::string& key,
                          const std::string& extra_json);

  Scenario sc_;
  std::mt19937_64 rng_;
  std::priority_queue<Pending, std::vector<Pending>, std::greater<Pending>> queue_;
  uint64_t seq_ = 0;
  int64_t spawned_until_;   // seconds before this are spawned
  int64_t emitted_until_;
  size_t next_fault_ = 0;
  uint64_t next_order_ = 1;
  // Faults that pick the next orders created.
  int64_t duplicate_left_ = 0, duplicate_repeats_ = 0, failed_left_ = 0;
  uint64_t oversize_left_ = 0, oversize_bytes_ = 0;
  const Fault *duplicate_fault_ = nullptr, *failed_fault_ = nullptr, *oversize_fault_ = nullptr;
  int64_t lost_so_far_ = 0;  // orders lost by the current lost_orders fault
  std::vector<std::string> sessions_;
  GeneratorStats stats_;
};

}  // namespace sluice::simulator
