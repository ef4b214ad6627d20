#pragma once
// One load step against one shipper: send at an offered rate for a while, let
// the endpoint catch up, and measure what came out (events/s, latency, CPU,
// memory, queue depth) while printing a progress line every second.

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "bench/capacity/receivers.h"
#include "bench/capacity/scenario.h"
#include "bench/loadgen/load.h"

namespace sluice::bench::capacity {

// The encoded traffic of a scenario, built once and replayed at every step.
struct Traffic {
  Protocol protocol = Protocol::kBeats;
  LumberjackOptions beats;            // limits.port/rate/duration are set per step
  std::vector<std::string> windows;   // beats
  std::unique_ptr<LineBuffer> lines;  // syslog
  int connections = 1;
  uint64_t distinct_events = 0;
  double event_bytes = 0;           // mean size of an event as the shipper receives it (JSON or line)
  double wire_bytes_per_event = 0;  // on the wire (after zlib for compressed windows)
};

struct StepResult {
  std::string shipper;
  bool calibration = false;  // the unpaced step
  double offered_eps = 0;    // 0 for the unpaced step
  double seconds = 0;        // from the first send until the last event was delivered
  uint64_t sent = 0, delivered = 0;
  // The rates are measured in the steady-state window of the step (after a
  // warm-up, until sending stops): achieved_eps = window_delivered / window_seconds.
  double window_seconds = 0;
  uint64_t window_delivered = 0;
  double sent_eps = 0, achieved_eps = 0, achieved_bytes_per_s = 0, wire_bytes_per_s = 0;
  bool has_ack = false;  // Lumberjack: ACK latency per window, without the windows ACKed after sending stopped
  double ack_p50_ms = 0, ack_p99_ms = 0, ack_p999_ms = 0;
  // Delivery lag from counts: for each sample, how long ago the sender had
  // sent as many events as the endpoint has now indexed (50 ms sampling: the
  // resolution is about that), while sending.
  double lag_p50_ms = 0, lag_p99_ms = 0, lag_p999_ms = 0;
  double cpu_seconds = 0, cpu_s_per_million = 0, events_per_cpu_s = 0, cores_used = 0;
  // Where the rest of the box's CPU went: this driver (the sender threads and
  // the sampler) and the bulk endpoint, in cores over the step.
  double driver_cores = 0, endpoint_cores = 0;
  double rss_max_mib = 0, peak_rss_mib = 0;  // sampled max VmRSS in the step; VmHWM since start
  double queue_bytes_max = -1;               // -1: no /metrics
  double queue_capacity_bytes = 0;
  uint64_t errors = 0;
  bool drained = true;  // the endpoint caught up within drain_seconds
};

struct StepPlan {
  std::string label;     // "step 3/7" in progress lines
  double rate = 0;       // 0: unpaced
  double seconds = 0;
  double drain_seconds = 10;
};

StepResult RunStep(Receiver& r, const Traffic& t, const StepPlan& plan, std::ostream& progress);

}  // namespace sluice::bench::capacity
