#pragma once
// Options of `type: beats` (the Lumberjack v2 server that Filebeat's
// `output.logstash` talks to). Every key, its default and its check live in
// ReadBeatsInputConfig.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/config_reader.h"
#include "ingest/beats/frame_decoder.h"

namespace sluice::beats {

enum class ClientAuth { kNone, kOptional, kRequired };

struct TlsOptions {
  std::string certificate;  // PEM, the server certificate (chain)
  std::string key;          // PEM private key
  std::string client_ca;    // PEM CA bundle to verify client certificates
  ClientAuth client_auth = ClientAuth::kNone;
  int64_t handshake_timeout_ms = 10'000;  // logstash ssl_handshake_timeout
};

struct BeatsInputConfig {
  std::string id = "beats";
  std::string listen;          // host:port; port 0 picks a free port (tests)
  std::string host;            // parsed from listen
  uint16_t port = 0;
  int threads = 1;             // io_context threads
  FrameDecoderLimits limits;   // max_window_size, max_frame_bytes, max_inflated_bytes, max_window_bytes
  int max_connections = 1000;
  // Close a connection when nothing was read for this long and no window is
  // waiting for its ACK (logstash client_inactivity_timeout). 0 disables.
  int64_t idle_timeout_ms = 60'000;
  // Send `ACK 0` this often while a window of the connection is not yet ACKed.
  int64_t keepalive_interval_ms = 3'000;
  std::optional<TlsOptions> tls;
};

// Reads and checks the options (errors go to cfg.errors(), with file:line);
// calls cfg.Finish(). Returns nullopt when something is wrong.
std::optional<BeatsInputConfig> ReadBeatsInputConfig(ConfigMap& cfg);

}  // namespace sluice::beats
