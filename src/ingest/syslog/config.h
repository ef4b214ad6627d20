#pragma once
// Options of the syslog input (`type: syslog`), read and validated once.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/config_reader.h"

namespace sluice::syslog {

struct SyslogTlsConfig {
  bool enabled = false;
  std::string certificate;  // PEM chain
  std::string key;          // PEM private key
  std::string client_ca;    // PEM CA bundle to verify client certificates
  std::string client_auth;  // none | optional | required
};

struct SyslogInputConfig {
  std::string id = "syslog";
  std::string listen = "0.0.0.0:5514";
  std::string host;  // parsed from listen
  uint16_t port = 5514;
  std::string protocol = "tcp";  // tcp | udp
  SyslogTlsConfig tls;
  std::string timezone = "UTC";
  absl::TimeZone tz = absl::UTCTimeZone();
  bool keep_original = false;
  uint64_t max_message_bytes = 64 * 1024;
  int64_t max_connections = 1024;
  int64_t idle_timeout_ms = 600'000;     // 0 = never
  uint64_t receive_buffer_bytes = 8 << 20;  // SO_RCVBUF for UDP
};

// Reads the options of one `type: syslog` input. Errors go to cfg.errors().
std::shared_ptr<const SyslogInputConfig> ReadSyslogInputConfig(ConfigMap& cfg);

}  // namespace sluice::syslog
