#include "ingest/syslog/config.h"

#include <charconv>

#include "common/strings.h"
#include "pipeline/component.h"

namespace sluice::syslog {

std::shared_ptr<const SyslogInputConfig> ReadSyslogInputConfig(ConfigMap& cfg) {
  auto c = std::make_shared<SyslogInputConfig>();
  size_t errors_before = cfg.errors()->list().size();
  c->id = ReadComponentId(cfg, "syslog");
  c->listen = cfg.String("listen", c->listen);
  c->protocol = cfg.Enum("protocol", c->protocol, {"tcp", "udp"});
  c->timezone = cfg.String("timezone", c->timezone);
  c->keep_original = cfg.Bool("keep_original", c->keep_original);
  c->max_message_bytes = cfg.Bytes("max_message_bytes", c->max_message_bytes, 480);
  if (c->max_message_bytes > (64u << 20)) cfg.Error("max_message_bytes", "must be at most 64MiB");
  c->max_connections = cfg.Int("max_connections", c->max_connections, 1, 1'000'000);
  c->idle_timeout_ms = cfg.DurationMs("idle_timeout", c->idle_timeout_ms, 0);
  c->receive_buffer_bytes = cfg.Bytes("receive_buffer_bytes", c->receive_buffer_bytes, 4096);
  if (auto t = cfg.Map("tls")) {
    c->tls.enabled = t->Bool("enabled", true);
    c->tls.certificate = t->RequiredString("certificate");
    c->tls.key = t->RequiredString("key");
    c->tls.client_ca = t->String("client_ca");
    c->tls.client_auth =
        t->Enum("client_auth", c->tls.client_ca.empty() ? "none" : "required", {"none", "optional", "required"});
    if (c->tls.client_auth != "none" && c->tls.client_ca.empty()) {
      t->Error("client_auth", "needs `client_ca` (the CA that signs client certificates)");
    }
    t->Finish();
  }
  if (c->tls.enabled && c->protocol == "udp") cfg.Error("tls", "TLS needs `protocol: tcp` (RFC 5425)");

  // listen: host:port, [v6]:port
  size_t colon = c->listen.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    std::string_view ps(c->listen.data() + colon + 1, c->listen.size() - colon - 1);
    auto r = std::from_chars(ps.data(), ps.data() + ps.size(), port);
    if (r.ec != std::errc() || r.ptr != ps.data() + ps.size()) port = -1;
    c->host = c->listen.substr(0, colon);
    if (c->host.size() >= 2 && c->host.front() == '[' && c->host.back() == ']') {
      c->host = c->host.substr(1, c->host.size() - 2);
    }
  }
  if (port < 0 || port > 65535 || c->host.empty()) {
    cfg.Error("listen", StrCat("expected host:port (for example 0.0.0.0:5514), got \"", c->listen, "\""));
  } else {
    c->port = static_cast<uint16_t>(port);
  }

  if (c->timezone == "UTC" || c->timezone == "Z") {
    c->tz = absl::UTCTimeZone();
  } else if (c->timezone == "Local" || c->timezone == "local") {
    c->tz = absl::LocalTimeZone();
  } else if (!absl::LoadTimeZone(c->timezone, &c->tz)) {
    cfg.Error("timezone", StrCat("unknown time zone \"", c->timezone,
                                 "\" (expected an IANA name such as Europe/Berlin, UTC or Local)"));
  }
  cfg.Finish();
  if (cfg.errors()->list().size() != errors_before) return nullptr;
  return c;
}

}  // namespace sluice::syslog
