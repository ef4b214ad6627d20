#pragma once
// The senders behind lumberjack_loadgen, syslog_loadgen and sluice-capacity:
// a Filebeat-like Lumberjack v2 sender (windows, pipelining, zlib, ACK
// latency) and a syslog-over-TCP sender (LF framing), both optionally paced to
// a rate and bounded by an event count or a duration.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace sluice::bench {

// Counters shared by the connections of one run; read live by a progress or
// sampling thread.
struct LoadCounters {
  std::atomic<uint64_t> sent{0};        // events written to the socket
  std::atomic<uint64_t> sent_bytes{0};  // wire bytes written
  std::atomic<uint64_t> acked{0};       // events whose window was fully ACKed (Lumberjack only)
  std::atomic<uint64_t> heartbeats{0};  // ACK 0 frames
  std::atomic<uint64_t> errors{0};
  std::mutex mu;
  std::vector<double> latencies_ms;       // per window: send to full ACK, while sending
  std::vector<double> tail_latencies_ms;  // the same for windows ACKed after sending stopped

  // `tail`: sending has stopped. The last windows of a run wait alone for the
  // receiver's flush interval, which says nothing about a steady stream.
  void AddLatency(double ms, bool tail);
  // Moves the latencies recorded so far out (one step's worth).
  std::vector<double> TakeLatencies(bool include_tail);
};

// When sending stops: after `events` events (over all connections) if > 0,
// otherwise after `duration_s` seconds.
struct LoadLimits {
  std::string host = "127.0.0.1";
  int port = 0;
  uint64_t events = 0;
  double duration_s = 0;
  int connections = 1;
  double rate = 0;  // events/s over all connections; 0 = as fast as the receiver takes them
};

struct LumberjackOptions {
  LoadLimits limits;
  int window = 2048;
  int pipelining = 2;
  int compression = 0;  // zlib level; 0 = plain J frames
};

// Encodes `events` as Lumberjack windows of `window` events each (the events
// are cycled to fill the last one). Each window is W + J frames, or W + one C
// frame when compression > 0.
std::vector<std::string> EncodeWindows(const std::vector<std::string>& events, int window, int compression);

// Sends `windows` round and round, checks every ACK, records ACK latencies.
// Returns when the limit is reached and every window sent is ACKed (or a
// connection failed: counters.errors > 0).
void RunLumberjackLoad(const LumberjackOptions& o, const std::vector<std::string>& windows, LoadCounters* counters);

// Lines (each ending in '\n') laid out in one buffer so a run of them is one send().
struct LineBuffer {
  std::string bytes;
  std::vector<size_t> offsets;  // offsets[i] = start of line i; offsets.back() = bytes.size()
  explicit LineBuffer(const std::vector<std::string>& lines);
  size_t lines() const { return offsets.size() - 1; }
};

// Sends the lines round and round over TCP (LF framing).
void RunSyslogLoad(const LoadLimits& o, const LineBuffer& lines, LoadCounters* counters);

// A syslog line of ~250 bytes: even i RFC 5424 with structured data, odd i RFC 3164.
std::string SyslogLine(uint64_t i);

// The q-quantile (0..1) of v, nearest rank; 0 for an empty v.
double Percentile(std::vector<double> v, double q);

// A connected TCP socket with TCP_NODELAY, or -1 (errno set).
int ConnectTcp(const std::string& host, int port);

}  // namespace sluice::bench
