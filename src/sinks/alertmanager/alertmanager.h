#pragma once
// Sends alerts to Prometheus Alertmanager (API v2, POST /api/v2/alerts), the
// way Prometheus does (PROTOCOLS.md §4.2): a firing alert is re-sent every
// `resend_interval` with endsAt = now + 4 × resend_interval, so it survives an
// Alertmanager restart and never times out while it fires; a resolved alert is
// sent with endsAt = the resolve time and repeated for `resolved_retention`.
// Every URL gets every alert (an HA pair deduplicates by itself). While a URL
// is down, its alerts wait (bounded: at most `max_alerts` tracked, oldest
// resolved first out, counted) and are retried with backoff. Update() only
// takes a short lock, so detection never blocks on alerting.

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/config_reader.h"
#include "common/metrics.h"

namespace sluice {

struct AlertmanagerAlert {
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  int64_t starts_at_ms = 0;
  bool resolved = false;
  int64_t resolved_at_ms = 0;
  std::string generator_url;
};

struct AlertmanagerOptions {
  std::vector<std::string> urls;              // http://host:port[/path-prefix]
  int64_t resend_interval_ms = 60'000;        // Prometheus: --rules.alert.resend-delay=1m
  int64_t resolved_retention_ms = 15 * 60'000;  // Prometheus: resolvedRetention
  int64_t timeout_ms = 10'000;
  int64_t retry_initial_ms = 500;
  int64_t retry_max_ms = 30'000;
  size_t max_alerts = 10'000;
};

// Reads `alerting.alertmanager` options (urls, resend_interval, resolved_retention, timeout, max_alerts).
AlertmanagerOptions ReadAlertmanagerOptions(ConfigMap& cfg);

// The JSON body Alertmanager expects for `alerts` at time `now_ms`.
std::string EncodeAlertmanagerAlerts(const std::vector<const AlertmanagerAlert*>& alerts, int64_t now_ms,
                                     int64_t resend_interval_ms);

class AlertmanagerNotifier {
 public:
  AlertmanagerNotifier(AlertmanagerOptions opts, MetricsRegistry* metrics);
  ~AlertmanagerNotifier();

  absl::Status Start();
  // Sends what is due one last time (bounded by the timeout), then stops.
  void Stop();
  // A new or changed alert (identity = its labels). Thread-safe and non-blocking.
  void Update(const AlertmanagerAlert& alert);
  // Alerts tracked (firing + resolved within retention).
  size_t tracked() const;

 private:
  struct Target {
    std::string url, host, port, prefix;
    int64_t next_attempt_ms = 0;
    int64_t backoff_ms = 0;
  };
  struct Entry {
    AlertmanagerAlert alert;
    uint64_t version = 0;
    std::vector<uint64_t> sent_version;     // per target
    std::vector<int64_t> last_sent_ms;      // per target
    int64_t updated_ms = 0;
  };
  void Loop();
  void SendDue(int64_t now_ms);
  absl::Status Post(const Target& t, const std::string& body);

  AlertmanagerOptions opts_;
  ComponentMetrics metrics_;
  Counter* evicted_;
  std::vector<Target> targets_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> alerts_;  // key: canonical label set
  bool stopping_ = false;
  bool dirty_ = false;
  std::thread thread_;
};

}  // namespace sluice
