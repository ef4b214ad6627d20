#pragma once
// Self-monitoring metrics, rendered in the Prometheus text exposition format.
//
// Metric objects are created once (at component start) and then updated with
// relaxed atomics on the data path; the registry lock is only taken to create
// a metric or to render. Pointers returned by the registry stay valid for the
// registry's lifetime.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <map>

namespace sluice {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void Set(int64_t v) { v_.store(v, std::memory_order_relaxed); }
  void Add(int64_t d) { v_.fetch_add(d, std::memory_order_relaxed); }
  int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts per bound, then +Inf; and the sum.
  std::vector<uint64_t> CumulativeCounts() const;
  double sum() const;
  uint64_t count() const;
  // The value below which `q` (0..1) of observations fall, interpolated within buckets.
  double Quantile(double q) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<uint64_t> sum_micros_{0};
};

// Seconds buckets from 1 ms to ~60 s, for request and ACK latencies.
std::vector<double> LatencyBuckets();

class MetricsRegistry {
 public:
  Counter* GetCounter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge* GetGauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram* GetHistogram(std::string_view name, std::string_view help, const Labels& labels,
                          std::vector<double> bounds);
  // A gauge whose value is computed at render time.
  void AddCallbackGauge(std::string_view name, std::string_view help, const Labels& labels,
                        std::function<double()> fn);

  // Value of a counter or gauge (0 if absent): for tests and progress lines.
  double Value(std::string_view name, const Labels& labels = {}) const;
  // Sum over every series of `name` whose labels include `match`.
  double Sum(std::string_view name, const Labels& match = {}) const;

  std::string RenderPrometheus() const;

 private:
  enum class Kind { kCounter, kGauge, kHistogram, kCallback };
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> callback;
  };
  struct Family {
    std::string name, help;
    Kind kind;
    std::vector<std::unique_ptr<Series>> series;
  };
  Series* FindOrCreate(std::string_view name, std::string_view help, Kind kind, const Labels& labels);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;
  std::map<std::string, Family*, std::less<>> by_name_;
};

// The telemetry contract: every input, sink and detector exports these, with
// the same names and a `component` label (its config `id`, else its type).
class ComponentMetrics {
 public:
  ComponentMetrics(MetricsRegistry* registry, std::string kind, std::string component);

  Counter* received_events;
  Counter* received_bytes;
  Counter* sent_events;       // delivered downstream (sinks: confirmed by the destination)
  Counter* sent_bytes;
  Counter* retried_events;    // sinks: events sent again after a retryable failure
  Counter* dead_lettered_events;

  // Errors and discarded events by reason; the pointer can be cached.
  Counter* Errors(std::string_view reason);
  Counter* Discarded(std::string_view reason);

  const std::string& component() const { return component_; }
  MetricsRegistry* registry() const { return registry_; }

 private:
  MetricsRegistry* registry_;
  std::string kind_, component_;
};

}  // namespace sluice
