#pragma once
// A small blocking Lumberjack v2 client (what Filebeat's output.logstash
// speaks): one window at a time — `2W count`, the events as `2J seq len json`
// frames, zlib-compressed into one `2C` frame when compression > 0 — then
// waits for the ACK of the whole window (ACK 0 is a heartbeat: keep waiting).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

struct libdeflate_compressor;

namespace sluice::simulator {

class LumberjackClient {
 public:
  explicit LumberjackClient(int compression_level = 3);
  ~LumberjackClient();
  LumberjackClient(const LumberjackClient&) = delete;
  LumberjackClient& operator=(const LumberjackClient&) = delete;

  // host:port; resolves names.
  absl::Status Connect(const std::string& host_port, int timeout_ms = 10'000);
  // Sends `events` (JSON objects) as one window and blocks until it is ACKed.
  absl::Status SendWindow(const std::vector<std::string>& events);
  void Close();
  bool connected() const { return fd_ >= 0; }
  uint64_t heartbeats() const { return heartbeats_; }

 private:
  absl::Status WriteAll(const std::string& data);
  absl::Status ReadExact(char* buf, size_t n);

  int fd_ = -1;
  int level_;
  int timeout_ms_ = 10'000;
  libdeflate_compressor* comp_ = nullptr;
  std::string frames_, wire_;
  uint64_t heartbeats_ = 0;
};

// host:port → TCP connection (blocking), or -1 with *error set.
int ConnectTcp(const std::string& host_port, int timeout_ms, std::string* error);

}  // namespace sluice::simulator
