#include "bench/capacity/steps.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

#include "bench/proc_stats.h"

namespace sluice::bench::capacity {
namespace {

using Clock = std::chrono::steady_clock;

struct Sample {
  double t;  // seconds since the step started
  uint64_t sent, delivered, indexed;
};

// Lag from counts: for each sample where the endpoint made progress, the time
// since the sender had sent that many events. Both instants are interpolated
// between samples (sent linearly; indexed at the middle of the interval in
// which it changed); the resolution is about one sampling interval.
// Only the samples until `until`.
std::vector<double> LagsFromCounts(const std::vector<Sample>& samples, double until) {
  std::vector<double> lags;
  for (size_t i = 1; i < samples.size() && samples[i].t <= until; ++i) {
    const uint64_t indexed = samples[i].indexed;
    if (indexed == samples[i - 1].indexed) continue;
    auto first = std::lower_bound(samples.begin(), samples.end(), indexed,
                                  [](const Sample& a, uint64_t v) { return a.sent < v; });
    if (first == samples.end()) continue;
    double sent_at = first->t;
    if (first != samples.begin()) {
      const Sample& before = *(first - 1);
      sent_at = before.t + (first->t - before.t) * static_cast<double>(indexed - before.sent) /
                               static_cast<double>(first->sent - before.sent);
    }
    const double indexed_at = (samples[i - 1].t + samples[i].t) / 2;
    lags.push_back(std::max(0.0, indexed_at - sent_at) * 1000.0);
  }
  return lags;
}

// The steady-state window of a step: from the end of the warm-up (1 s, or a
// fifth of a short step) to the end of sending. nullptr pair if too few samples.
std::pair<const Sample*, const Sample*> SteadyWindow(const std::vector<Sample>& samples, double send_seconds) {
  const double warm = std::min(1.0, 0.2 * send_seconds);
  const Sample *a = nullptr, *b = nullptr;
  for (const Sample& s : samples) {
    if (!a && s.t >= warm) a = &s;
    if (s.t <= send_seconds) b = &s;
  }
  if (!a || !b || b->t - a->t < 0.5 * send_seconds) return {nullptr, nullptr};
  return {a, b};
}

void Launch(const Traffic& t, const Receiver& r, const StepPlan& plan, LoadCounters* c) {
  LoadLimits limits;
  limits.port = r.input_port;
  limits.duration_s = plan.seconds;
  limits.rate = plan.rate;
  limits.connections = t.connections;
  if (t.protocol == Protocol::kBeats) {
    LumberjackOptions o = t.beats;
    o.limits = limits;
    RunLumberjackLoad(o, t.windows, c);
  } else {
    RunSyslogLoad(limits, *t.lines, c);
  }
}

}  // namespace

StepResult RunStep(Receiver& r, const Traffic& t, const StepPlan& plan, std::ostream& progress) {
  StepResult res;
  res.shipper = r.name;
  res.calibration = plan.rate <= 0;
  res.offered_eps = plan.rate;
  res.has_ack = t.protocol == Protocol::kBeats;
  const int pid = r.proc->pid();

  uint64_t indexed0 = 0;
  IndexedCount(r.es.port, &indexed0);
  LoadCounters counters;
  std::vector<Sample> samples;
  std::atomic<bool> sending{true}, stop{false};
  long rss_max_kib = 0;
  double queue_max = r.metrics_port ? 0 : -1, queue_cap = 0;
  const ProcSample before = ReadProc(pid);
  const ProcSample driver_before = ReadProc(getpid()), endpoint_before = ReadProc(r.es.proc->pid());
  const auto t0 = Clock::now();
  auto since = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };

  // Events that count as delivered: ACKed windows (Beats), indexed documents (syslog).
  auto delivered = [&](uint64_t indexed) { return res.has_ack ? counters.acked.load() : indexed; };

  std::thread sampler([&] {
    int tick = 0;
    double next_line = 1;
    uint64_t line_sent = 0, line_delivered = 0;
    while (!stop) {
      uint64_t idx = indexed0;
      IndexedCount(r.es.port, &idx);
      Sample s{since(), counters.sent.load(), 0, idx - indexed0};
      s.delivered = delivered(s.indexed);
      samples.push_back(s);
      rss_max_kib = std::max(rss_max_kib, ReadProc(pid).rss_kib);
      if (r.metrics_port && tick++ % 5 == 0) {
        std::string m;
        if (HttpGet(r.metrics_port, "/metrics", &m)) queue_max = std::max(queue_max, QueueBytes(m, &queue_cap));
      }
      if (s.t >= next_line) {
        char line[320];
        std::snprintf(line, sizeof line,
                      "capacity: %-7s %-12s offered %9s | sent %8.0f/s delivered %8.0f/s | rss %5.1f MiB%s\n",
                      r.name.c_str(), plan.label.c_str(),
                      plan.rate > 0 ? (std::to_string(static_cast<long>(plan.rate)) + "/s").c_str() : "unpaced",
                      static_cast<double>(s.sent - line_sent), static_cast<double>(s.delivered - line_delivered),
                      ReadProc(pid).rss_kib / 1024.0, sending ? "" : " (draining)");
        progress << line << std::flush;
        line_sent = s.sent;
        line_delivered = s.delivered;
        next_line += 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });

  Launch(t, r, plan, &counters);
  sending = false;
  const double send_seconds = since();
  const uint64_t sent = counters.sent.load();
  // Let the endpoint catch up: every sent event indexed, or no progress for 3 s, or the drain limit.
  uint64_t last = 0;
  auto last_progress = Clock::now();
  res.drained = WaitUntil(
      [&] {
        uint64_t idx = 0;
        if (!IndexedCount(r.es.port, &idx)) return false;
        idx -= indexed0;
        if (idx != last) last = idx, last_progress = Clock::now();
        return idx >= (res.has_ack ? counters.acked.load() : sent) ||
               Clock::now() - last_progress > std::chrono::seconds(3);
      },
      plan.drain_seconds);
  uint64_t indexed_end = indexed0;
  IndexedCount(r.es.port, &indexed_end);
  res.drained = res.drained && indexed_end - indexed0 >= (res.has_ack ? counters.acked.load() : sent);
  const double end_seconds = since();
  stop = true;
  sampler.join();
  const ProcSample after = ReadProc(pid);
  res.driver_cores = (ReadProc(getpid()).cpu_seconds - driver_before.cpu_seconds) / end_seconds;
  res.endpoint_cores = (ReadProc(r.es.proc->pid()).cpu_seconds - endpoint_before.cpu_seconds) / end_seconds;
  // The sampler may have stopped before it saw the last documents arrive.
  samples.push_back({end_seconds, sent, 0, indexed_end - indexed0});

  res.sent = sent;
  res.delivered = res.has_ack ? counters.acked.load() : indexed_end - indexed0;
  // The whole step: Beats ends with the last ACK (RunLumberjackLoad waits for it), syslog with the last document indexed.
  res.seconds = send_seconds;
  if (!res.has_ack) {
    auto done = std::find_if(samples.begin(), samples.end(), [&](const Sample& s) { return s.indexed >= res.delivered; });
    res.seconds = std::max(send_seconds, done == samples.end() ? end_seconds : done->t);
  }
  // Rates from the steady-state part of the step: the warm-up and the tail
  // (the last windows wait for the output's flush interval) would bias them.
  auto [a, b] = SteadyWindow(samples, send_seconds);
  if (a && b) {
    res.window_seconds = b->t - a->t;
    res.window_delivered = b->delivered - a->delivered;
    res.sent_eps = (b->sent - a->sent) / res.window_seconds;
  } else {
    res.window_seconds = res.seconds;
    res.window_delivered = res.delivered;
    res.sent_eps = sent / send_seconds;
  }
  res.achieved_eps = res.window_delivered / res.window_seconds;
  res.achieved_bytes_per_s = res.achieved_eps * t.event_bytes;
  res.wire_bytes_per_s = res.sent_eps * t.wire_bytes_per_event;
  if (res.has_ack) {
    const std::vector<double> acks = counters.TakeLatencies(/*include_tail=*/false);
    res.ack_p50_ms = Percentile(acks, 0.5);
    res.ack_p99_ms = Percentile(acks, 0.99);
    res.ack_p999_ms = Percentile(acks, 0.999);
  }
  // Like the ACK latency, without the tail (the last documents wait for the output's flush interval).
  const std::vector<double> lags = LagsFromCounts(samples, send_seconds);
  res.lag_p50_ms = Percentile(lags, 0.5);
  res.lag_p99_ms = Percentile(lags, 0.99);
  res.lag_p999_ms = Percentile(lags, 0.999);
  res.cpu_seconds = after.cpu_seconds - before.cpu_seconds;
  res.cpu_s_per_million = res.delivered ? res.cpu_seconds / res.delivered * 1e6 : 0;
  res.events_per_cpu_s = res.cpu_seconds > 0 ? res.delivered / res.cpu_seconds : 0;
  res.cores_used = res.cpu_seconds / end_seconds;
  res.rss_max_mib = std::max(rss_max_kib, after.rss_kib) / 1024.0;
  res.peak_rss_mib = after.peak_rss_kib / 1024.0;
  res.queue_bytes_max = queue_max;
  res.queue_capacity_bytes = queue_cap;
  res.errors = counters.errors.load();
  return res;
}

}  // namespace sluice::bench::capacity
