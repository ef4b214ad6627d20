#include "sinks/alertmanager/alertmanager.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <random>

#include "common/json_util.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/timeutil.h"

namespace sluice {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

AlertmanagerOptions ReadAlertmanagerOptions(ConfigMap& cfg) {
  AlertmanagerOptions o;
  o.urls = cfg.StringList("urls");
  if (o.urls.empty()) cfg.Error("urls", "at least one Alertmanager URL is required");
  for (const auto& u : o.urls) {
    if (u.rfind("http://", 0) != 0) cfg.Error("urls", StrCat("\"", u, "\" is not an http://host:port URL"));
  }
  o.resend_interval_ms = cfg.DurationMs("resend_interval", o.resend_interval_ms, 1000);
  o.resolved_retention_ms = cfg.DurationMs("resolved_retention", o.resolved_retention_ms, 0);
  o.timeout_ms = cfg.DurationMs("timeout", o.timeout_ms, 100);
  o.max_alerts = static_cast<size_t>(cfg.Int("max_alerts", static_cast<int64_t>(o.max_alerts), 1, 10'000'000));
  cfg.Finish();
  return o;
}

namespace {
std::string LabelKey(const std::map<std::string, std::string>& labels) {
  std::string k;
  for (const auto& [n, v] : labels) StrAppend(&k, n, "\x1f", v, "\x1e");
  return k;
}
}  // namespace

std::string EncodeAlertmanagerAlerts(const std::vector<const AlertmanagerAlert*>& alerts, int64_t now_ms,
                                     int64_t resend_interval_ms) {
  std::string out = "[";
  for (size_t i = 0; i < alerts.size(); ++i) {
    const AlertmanagerAlert& a = *alerts[i];
    if (i) out.push_back(',');
    out += "{\"labels\":";
    AppendJsonStringMap(a.labels, &out);
    out += ",\"annotations\":";
    AppendJsonStringMap(a.annotations, &out);
    out += ",\"startsAt\":\"";
    AppendRfc3339Ms(a.starts_at_ms > 0 ? a.starts_at_ms : now_ms, &out);
    out += "\",\"endsAt\":\"";
    // Firing: endsAt well ahead, like Prometheus (4 × resend interval), so the
    // alert never times out between two sends. Resolved: the resolve time.
    AppendRfc3339Ms(a.resolved ? std::max(a.resolved_at_ms, a.starts_at_ms) : now_ms + 4 * resend_interval_ms, &out);
    out += "\"";
    if (!a.generator_url.empty()) {
      out += ",\"generatorURL\":";
      AppendJsonString(a.generator_url, &out);
    }
    out += "}";
  }
  out += "]";
  return out;
}

AlertmanagerNotifier::AlertmanagerNotifier(AlertmanagerOptions opts, MetricsRegistry* metrics)
    : opts_(std::move(opts)),
      metrics_(metrics, "alertmanager", "alertmanager"),
      evicted_(metrics_.Discarded("alert_capacity")) {
  for (const auto& u : opts_.urls) {
    Target t;
    t.url = u;
    std::string rest = u.substr(u.find("://") + 3);
    size_t slash = rest.find('/');
    std::string hostport = rest.substr(0, slash);
    t.prefix = slash == std::string::npos ? "" : rest.substr(slash);
    while (!t.prefix.empty() && t.prefix.back() == '/') t.prefix.pop_back();
    size_t colon = hostport.rfind(':');
    t.host = hostport.substr(0, colon);
    t.port = colon == std::string::npos ? "80" : hostport.substr(colon + 1);
    targets_.push_back(t);
  }
  metrics->AddCallbackGauge("sluice_alertmanager_tracked_alerts", "Alerts tracked for Alertmanager (firing and recently resolved).",
                            {}, [this] { return static_cast<double>(tracked()); });
}

AlertmanagerNotifier::~AlertmanagerNotifier() { Stop(); }

absl::Status AlertmanagerNotifier::Start() {
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void AlertmanagerNotifier::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

size_t AlertmanagerNotifier::tracked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return alerts_.size();
}

void AlertmanagerNotifier::Update(const AlertmanagerAlert& alert) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string key = LabelKey(alert.labels);
  auto it = alerts_.find(key);
  if (it == alerts_.end()) {
    if (alerts_.size() >= opts_.max_alerts) {
      // Out of room: forget the oldest resolved alert, else the oldest one.
      auto victim = alerts_.end();
      for (auto i = alerts_.begin(); i != alerts_.end(); ++i) {
        if (victim == alerts_.end() || (i->second.alert.resolved && !victim->second.alert.resolved) ||
            (i->second.alert.resolved == victim->second.alert.resolved && i->second.updated_ms < victim->second.updated_ms)) {
          victim = i;
        }
      }
      alerts_.erase(victim);
      evicted_->Inc();
    }
    Entry e;
    e.sent_version.assign(targets_.size(), 0);
    e.last_sent_ms.assign(targets_.size(), 0);
    it = alerts_.emplace(key, std::move(e)).first;
  }
  it->second.alert = alert;
  it->second.version++;
  it->second.updated_ms = NowMs();
  metrics_.received_events->Inc();
  dirty_ = true;
  cv_.notify_all();
}

void AlertmanagerNotifier::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait_for(lock, std::chrono::milliseconds(500), [&] { return stopping_ || dirty_; });
    bool last = stopping_;
    dirty_ = false;
    lock.unlock();
    SendDue(NowMs());
    lock.lock();
    if (last) return;
  }
}

void AlertmanagerNotifier::SendDue(int64_t now_ms) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  for (size_t ti = 0; ti < targets_.size(); ++ti) {
    Target& t = targets_[ti];
    if (now_ms < t.next_attempt_ms) continue;
    std::vector<AlertmanagerAlert> batch;
    std::vector<std::pair<std::string, uint64_t>> sent;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = alerts_.begin(); it != alerts_.end();) {
        Entry& e = it->second;
        // Retention runs from when the resolve reached the notifier (wall clock):
        // resolved_at_ms is event time, hours old when logs are replayed or late.
        if (e.alert.resolved && now_ms - e.updated_ms > opts_.resolved_retention_ms) {
          it = alerts_.erase(it);
          continue;
        }
        bool changed = e.sent_version[ti] != e.version;
        bool due = now_ms - e.last_sent_ms[ti] >= opts_.resend_interval_ms;
        if (changed || due) {
          batch.push_back(e.alert);
          sent.emplace_back(it->first, e.version);
        }
        ++it;
      }
    }
    if (batch.empty()) continue;
    std::vector<const AlertmanagerAlert*> ptrs;
    for (const auto& a : batch) ptrs.push_back(&a);
    absl::Status s = Post(t, EncodeAlertmanagerAlerts(ptrs, now_ms, opts_.resend_interval_ms));
    std::lock_guard<std::mutex> lock(mu_);
    if (s.ok()) {
      t.backoff_ms = 0;
      t.next_attempt_ms = 0;
      metrics_.sent_events->Inc(batch.size());
      for (const auto& [key, version] : sent) {
        auto it = alerts_.find(key);
        if (it == alerts_.end()) continue;
        it->second.last_sent_ms[ti] = now_ms;
        if (it->second.sent_version[ti] < version) it->second.sent_version[ti] = version;
      }
    } else {
      metrics_.retried_events->Inc(batch.size());
      t.backoff_ms = t.backoff_ms == 0 ? opts_.retry_initial_ms : std::min(opts_.retry_max_ms, t.backoff_ms * 2);
      int64_t jitter = static_cast<int64_t>(rng() % static_cast<uint64_t>(t.backoff_ms / 2 + 1));
      t.next_attempt_ms = now_ms + t.backoff_ms / 2 + jitter;
      static RateLimitedLog log;
      log.Warn("alertmanager", "sending ", batch.size(), " alerts to ", t.url, " failed (", MessageOf(s.message()),
               "); retrying in ", t.next_attempt_ms - now_ms, " ms");
    }
  }
}

absl::Status AlertmanagerNotifier::Post(const Target& t, const std::string& body) {
  try {
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::milliseconds(opts_.timeout_ms));
    beast::error_code ec;
    auto results = resolver.resolve(t.host, t.port, ec);
    if (ec) return absl::UnavailableError(StrCat("resolve ", t.host, ": ", ec.message()));
    stream.connect(results, ec);
    if (ec) {
      metrics_.Errors("connect")->Inc();
      return absl::UnavailableError(StrCat("connect: ", ec.message()));
    }
    http::request<http::string_body> req(http::verb::post, t.prefix + "/api/v2/alerts", 11);
    req.set(http::field::host, t.host + ":" + t.port);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::user_agent, "sluice/" SLUICE_VERSION);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req, ec);
    if (ec) {
      metrics_.Errors("write")->Inc();
      return absl::UnavailableError(StrCat("write: ", ec.message()));
    }
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res, ec);
    if (ec) {
      metrics_.Errors("read")->Inc();
      return absl::UnavailableError(StrCat("read: ", ec.message()));
    }
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    unsigned status = res.result_int();
    if (status == 200) return absl::OkStatus();
    metrics_.Errors(StrCat("http_", status))->Inc();
    if (status >= 400 && status < 500) {
      // The alerts themselves were refused (400 stores the valid ones anyway,
      // PROTOCOLS.md §4.1): resending the same body cannot help.
      SLUICE_LOG_ERROR("alertmanager", t.url, " refused alerts: HTTP ", status, ": ", res.body());
      return absl::OkStatus();
    }
    return absl::UnavailableError(StrCat("HTTP ", status, ": ", res.body()));
  } catch (const std::exception& e) {
    // Beast throws only on allocation failure here; keep the alerts for a retry.
    return absl::InternalError(e.what());
  }
}

}  // namespace sluice
