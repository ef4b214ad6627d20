#pragma once
// The events lumberjack_loadgen sends (also used by detectors_bench).

#include <cstdint>
#include <cstdio>
#include <string>

namespace sluice::bench {

// A Filebeat-shaped event of about `target` bytes. Hosts, services, levels,
// status codes and durations vary (deterministically in n) so that rules
// (bench/rules/thirty-rules.yml) see several groups and some matches.
// host < 0: the 16 hosts (4 services x 4 hosts) in turn from one event to the
// next; host 0-15: that host's (and its service's) event, as one Filebeat
// sends them (lumberjack_loadgen --fleet).
inline constexpr int kEventHosts = 16;
inline std::string MakeEvent(uint64_t n, int target, int host_index = -1) {
  static const char* const kServices[] = {"shop-api", "shop-web", "payments", "inventory"};
  static const char* const kPaths[] = {"/var/log/shop/api.log", "/var/log/shop/web.log", "/var/log/pay/pay.log",
                                       "/var/log/inv/inv.log"};
  const int svc = host_index >= 0 ? host_index % 4 : static_cast<int>(n % 4);
  const uint64_t host_n = host_index >= 0 ? static_cast<uint64_t>(host_index / 4) : n / 4;
  const uint64_t h = (n * 0x9E3779B97F4A7C15ull) >> 40;  // spreads the rarer values
  const char* level = h % 100 == 0 ? "ERROR" : h % 20 == 0 ? "WARN" : "INFO";
  const int status = h % 200 == 3 ? 503 : h % 50 == 1 ? 404 : h % 500 == 7 ? 500 : 200;
  char ts[64];
  std::snprintf(ts, sizeof ts, "2026-11-21T05:%02d:%02d.%03dZ", static_cast<int>(n / 60000 % 60),
                static_cast<int>(n / 1000 % 60), static_cast<int>(n % 1000));
  const std::string host = std::string(kServices[svc]) + "-" + std::to_string(1 + host_n % 4);
  std::string e = std::string("{\"@timestamp\":\"") + ts +
                  "\",\"@metadata\":{\"beat\":\"filebeat\",\"type\":\"_doc\",\"version\":\"8.15.0\"},"
                  "\"log\":{\"offset\":" + std::to_string(n * 517) +
                  ",\"level\":\"" + level + "\",\"file\":{\"path\":\"" + kPaths[svc] +
                  "\"}},\"input\":{\"type\":\"filestream\"},"
                  "\"agent\":{\"type\":\"filebeat\",\"version\":\"8.15.0\",\"name\":\"" + host +
                  "\"},"
                  "\"ecs\":{\"version\":\"8.0.0\"},\"host\":{\"name\":\"" + host +
                  "\"},\"service\":{\"name\":\"" + kServices[svc] + "\"},"
                  "\"http\":{\"response\":{\"status_code\":" + std::to_string(status) +
                  "}},\"event\":{\"duration_ms\":" + std::to_string(h % 997 == 0 ? 4000 + n % 3000 : n % 250) +
                  "},\"message\":\"";
  std::string msg = std::string(level) + " order " + std::to_string(100000 + n % 900000) +
                    " status=created user=" + std::to_string(n % 7919) + " path=/api/orders method=POST took_ms=" +
                    std::to_string(n % 250);
  // " x" until the event reaches `target` bytes (appended at once: the loop
  // of appends was most of the time of lumberjack_loadgen --distinct).
  const size_t have = e.size() + msg.size() + 3;
  if (have < static_cast<size_t>(target)) {
    const size_t pairs = (static_cast<size_t>(target) - have + 1) / 2;
    msg.reserve(msg.size() + 2 * pairs);
    for (size_t k = 0; k < pairs; ++k) msg.append(" x", 2);
  }
  e += msg + "\"}";
  return e;
}

}  // namespace sluice::bench
