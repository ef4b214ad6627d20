#include "ingest/beats/config.h"

#include <filesystem>
#include <system_error>

#include <boost/asio/ip/address.hpp>

#include "common/strings.h"
#include "pipeline/admin_http.h"
#include "pipeline/component.h"

namespace sluice::beats {
namespace {

// Batch offsets are 32-bit: one window's events must stay below 4 GiB.
constexpr uint64_t kMaxWindowBytesLimit = 3ull << 30;

void CheckReadableFile(ConfigMap& m, std::string_view key, const std::string& path) {
  if (path.empty()) return;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    m.Error(key, StrCat("file \"", path, "\" does not exist or is not a regular file"));
  }
}

std::optional<TlsOptions> ReadTls(ConfigMap& t) {
  TlsOptions o;
  o.certificate = t.RequiredString("certificate");
  o.key = t.RequiredString("key");
  o.client_ca = t.String("client_ca");
  std::string auth = t.Enum("client_auth", "none", {"none", "optional", "required"});
  o.client_auth = auth == "required" ? ClientAuth::kRequired
                  : auth == "optional" ? ClientAuth::kOptional
                                       : ClientAuth::kNone;
  o.handshake_timeout_ms = t.DurationMs("handshake_timeout", o.handshake_timeout_ms, 1);
  CheckReadableFile(t, "certificate", o.certificate);
  CheckReadableFile(t, "key", o.key);
  CheckReadableFile(t, "client_ca", o.client_ca);
  if (o.client_auth != ClientAuth::kNone && o.client_ca.empty()) {
    t.Error("client_auth", StrCat("\"", auth, "\" needs client_ca (the CA that signs client certificates)"));
  }
  t.Finish();
  return o;
}

}  // namespace

std::optional<BeatsInputConfig> ReadBeatsInputConfig(ConfigMap& cfg) {
  const size_t errors_before = cfg.errors()->list().size();
  BeatsInputConfig c;
  c.id = ReadComponentId(cfg, "beats");
  c.listen = cfg.RequiredString("listen");
  if (!c.listen.empty()) {
    unsigned short port = 0;
    absl::Status s = SplitHostPort(c.listen, &c.host, &port);
    if (!s.ok()) {
      cfg.Error("listen", StrCat(MessageOf(s.message()), " (expected host:port, e.g. 0.0.0.0:5044)"));
    } else {
      boost::system::error_code ec;
      boost::asio::ip::make_address(c.host, ec);
      if (ec) cfg.Error("listen", StrCat("\"", c.host, "\" is not an IP address"));
      c.port = port;
    }
  }
  c.threads = static_cast<int>(cfg.Int("threads", c.threads, 1, 256));
  c.limits.max_window_size =
      static_cast<uint32_t>(cfg.Int("max_window_size", c.limits.max_window_size, 1, 10'000'000));
  c.limits.max_frame_bytes = cfg.Bytes("max_frame_bytes", c.limits.max_frame_bytes, 1);
  c.limits.max_inflated_bytes = cfg.Bytes("max_inflated_bytes", c.limits.max_inflated_bytes, 1);
  c.limits.max_window_bytes = cfg.Bytes("max_window_bytes", c.limits.max_window_bytes, 1);
  if (c.limits.max_frame_bytes > 0xFFFFFFFFull) c.limits.max_frame_bytes = 0xFFFFFFFFull;  // u32 on the wire anyway
  if (c.limits.max_window_bytes > kMaxWindowBytesLimit) {
    cfg.Error("max_window_bytes", "must be at most 3GiB");
  }
  c.max_connections = static_cast<int>(cfg.Int("max_connections", c.max_connections, 1, 1'000'000));
  c.idle_timeout_ms = cfg.DurationMs("idle_timeout", c.idle_timeout_ms, 0);
  c.keepalive_interval_ms = cfg.DurationMs("keepalive_interval", c.keepalive_interval_ms, 10);
  if (auto t = cfg.Map("tls")) c.tls = ReadTls(*t);
  cfg.Finish();
  if (cfg.errors()->list().size() != errors_before) return std::nullopt;
  return c;
}

}  // namespace sluice::beats
