#include "bench/loadgen/load.h"

#include <arpa/inet.h>
#include <libdeflate.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <thread>

namespace sluice::bench {
namespace {

using Clock = std::chrono::steady_clock;

// One connection's share of the limits: when to stop and how fast to go.
class ConnectionPlan {
 public:
  ConnectionPlan(const LoadLimits& l, uint64_t quota, Clock::time_point start)
      : quota_(quota),
        by_time_(l.events == 0),
        start_(start),
        end_(start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(l.duration_s))),
        rate_(l.rate > 0 ? l.rate / l.connections : 0) {}
  bool Done(uint64_t sent) const { return by_time_ ? Clock::now() >= end_ : sent >= quota_; }
  bool paced() const { return rate_ > 0; }
  // Events this connection may still send (unbounded when limited by time).
  uint64_t Left(uint64_t sent) const { return by_time_ ? UINT64_MAX : quota_ - std::min(quota_, sent); }
  // When event number `sent` of this connection is due.
  Clock::time_point Due(uint64_t sent) const {
    return start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(sent / rate_));
  }
  // How many events to write at once so that one write is ~5 ms worth.
  uint64_t Chunk(uint64_t max) const {
    if (!paced()) return max;
    return std::clamp<uint64_t>(static_cast<uint64_t>(rate_ / 200), 1, max);
  }

 private:
  uint64_t quota_;
  bool by_time_;
  Clock::time_point start_, end_;
  double rate_;
};

void PutU32(std::string* s, uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
  s->append(b, 4);
}

bool ReadExact(int fd, char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = recv(fd, buf + got, n - got, 0);
    if (r <= 0) return false;
    got += r;
  }
  return true;
}

bool SendAll(int fd, const char* p, size_t len) {
  while (len > 0) {
    ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    len -= w;
  }
  return true;
}

// Splits `total` over `connections` (the first ones take the remainder).
uint64_t ShareOf(uint64_t total, int connections, int c) {
  return total / connections + (static_cast<uint64_t>(c) < total % connections ? 1 : 0);
}

void LumberjackConnection(const LumberjackOptions& o, const std::vector<std::string>& windows, const ConnectionPlan& plan,
                          LoadCounters* sh) {
  int fd = ConnectTcp(o.limits.host, o.limits.port);
  if (fd < 0) {
    std::perror("connect");
    sh->errors++;
    return;
  }
  struct Pending {
    Clock::time_point sent_at;
    uint32_t count;
  };
  std::deque<Pending> pending;
  uint64_t sent = 0;
  size_t wi = 0;
  while (true) {
    while (!plan.Done(sent) && static_cast<int>(pending.size()) < std::max(1, o.pipelining)) {
      if (plan.paced()) {
        auto due = plan.Due(sent);
        if (due > Clock::now() && !pending.empty()) break;
        std::this_thread::sleep_until(due);
      }
      const std::string& w = windows[wi++ % windows.size()];
      if (!SendAll(fd, w.data(), w.size())) {
        sh->errors++;
        close(fd);
        return;
      }
      pending.push_back({Clock::now(), static_cast<uint32_t>(o.window)});
      sent += o.window;
      sh->sent += o.window;
      sh->sent_bytes += w.size();
    }
    if (pending.empty()) break;
    char ack[6];
    if (!ReadExact(fd, ack, 6) || ack[0] != '2' || ack[1] != 'A') {
      std::fprintf(stderr, "loadgen: connection lost or bad ACK frame\n");
      sh->errors++;
      break;
    }
    uint32_t seq = (uint8_t(ack[2]) << 24) | (uint8_t(ack[3]) << 16) | (uint8_t(ack[4]) << 8) | uint8_t(ack[5]);
    if (seq == 0) {
      sh->heartbeats++;
      continue;
    }
    if (seq > pending.front().count) {
      std::fprintf(stderr, "loadgen: ACK %u larger than window %u\n", seq, pending.front().count);
      sh->errors++;
      break;
    }
    if (seq < pending.front().count) continue;  // partial ACK: still working
    sh->AddLatency(std::chrono::duration<double, std::milli>(Clock::now() - pending.front().sent_at).count(),
                   plan.Done(sent));
    sh->acked += pending.front().count;
    pending.pop_front();
  }
  close(fd);
}

void SyslogConnection(const LoadLimits& o, const LineBuffer& lines, const ConnectionPlan& plan, LoadCounters* sh) {
  int fd = ConnectTcp(o.host, o.port);
  if (fd < 0) {
    std::perror("connect");
    sh->errors++;
    return;
  }
  uint64_t sent = 0;
  size_t at = 0;  // next line in the buffer
  while (!plan.Done(sent)) {
    if (plan.paced()) std::this_thread::sleep_until(plan.Due(sent));
    const uint64_t n = std::min({plan.Chunk(lines.lines()), lines.lines() - at, plan.Left(sent)});
    const size_t begin = lines.offsets[at], end = lines.offsets[at + n];
    if (!SendAll(fd, lines.bytes.data() + begin, end - begin)) {
      std::perror("send");
      sh->errors++;
      break;
    }
    sent += n;
    sh->sent += n;
    sh->sent_bytes += end - begin;
    at = (at + n) % lines.lines();
  }
  close(fd);
}

template <typename Fn>
void RunConnections(const LoadLimits& l, Fn&& per_connection) {
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < l.connections; ++c) {
    threads.emplace_back([&, c] { per_connection(ConnectionPlan(l, ShareOf(l.events, l.connections, c), start)); });
  }
  for (auto& t : threads) t.join();
}

}  // namespace

void LoadCounters::AddLatency(double ms, bool tail) {
  std::lock_guard<std::mutex> lock(mu);
  (tail ? tail_latencies_ms : latencies_ms).push_back(ms);
}

std::vector<double> LoadCounters::TakeLatencies(bool include_tail) {
  std::lock_guard<std::mutex> lock(mu);
  std::vector<double> out;
  out.swap(latencies_ms);
  if (include_tail) out.insert(out.end(), tail_latencies_ms.begin(), tail_latencies_ms.end());
  tail_latencies_ms.clear();
  return out;
}

std::vector<std::string> EncodeWindows(const std::vector<std::string>& events, int window, int compression) {
  libdeflate_compressor* comp = libdeflate_alloc_compressor(compression > 0 ? compression : 1);
  const size_t n_windows = std::max<size_t>(1, (events.size() + window - 1) / window);
  std::vector<std::string> out;
  for (size_t w = 0; w < n_windows; ++w) {
    std::string frames;
    for (int i = 0; i < window; ++i) {
      const std::string& ev = events[(w * window + i) % events.size()];
      frames += "2J";
      PutU32(&frames, i + 1);
      PutU32(&frames, ev.size());
      frames += ev;
    }
    std::string wire = "2W";
    PutU32(&wire, window);
    if (compression == 0) {
      out.push_back(wire + frames);
      continue;
    }
    std::string z(libdeflate_zlib_compress_bound(comp, frames.size()), '\0');
    size_t n = libdeflate_zlib_compress(comp, frames.data(), frames.size(), z.data(), z.size());
    wire += "2C";
    PutU32(&wire, n);
    wire.append(z.data(), n);
    out.push_back(std::move(wire));
  }
  libdeflate_free_compressor(comp);
  return out;
}

void RunLumberjackLoad(const LumberjackOptions& o, const std::vector<std::string>& windows, LoadCounters* counters) {
  LoadLimits l = o.limits;
  // Whole windows per connection.
  if (l.events > 0) {
    uint64_t per = (l.events + l.connections - 1) / l.connections;
    l.events = (per + o.window - 1) / o.window * o.window * l.connections;
  }
  RunConnections(l, [&](const ConnectionPlan& plan) { LumberjackConnection(o, windows, plan, counters); });
}

LineBuffer::LineBuffer(const std::vector<std::string>& lines) {
  for (const auto& line : lines) {
    offsets.push_back(bytes.size());
    bytes += line;
    if (line.empty() || line.back() != '\n') bytes += '\n';
  }
  offsets.push_back(bytes.size());
}

void RunSyslogLoad(const LoadLimits& o, const LineBuffer& lines, LoadCounters* counters) {
  RunConnections(o, [&](const ConnectionPlan& plan) { SyslogConnection(o, lines, plan, counters); });
}

std::string SyslogLine(uint64_t i) {
  char buf[512];
  int n;
  if (i % 2 == 0) {
    n = std::snprintf(buf, sizeof buf,
                      "<134>1 2026-11-21T05:30:%02d.%06lluZ mes-core-%llu mes-api 4242 ORDER [meta@32473 order=\"%llu\" "
                      "stage=\"price\"][trace@32473 id=\"4bf92f3577b34da6a3ce929d%010llu\"] calculation stage 3 "
                      "finished for order %llu in %llu ms, model 3d-%llu.stl (queue mes.calc, worker %llu)\n",
                      static_cast<int>(i / 1000 % 60), static_cast<unsigned long long>(i % 1000000),
                      static_cast<unsigned long long>(i % 8), static_cast<unsigned long long>(100000 + i % 900000),
                      static_cast<unsigned long long>(i), static_cast<unsigned long long>(100000 + i % 900000),
                      static_cast<unsigned long long>(i % 977), static_cast<unsigned long long>(i % 5000),
                      static_cast<unsigned long long>(i % 16));
  } else {
    n = std::snprintf(buf, sizeof buf,
                      "<30>Nov 21 05:30:%02d shop-db-%llu postgres[%llu]: LOG:  duration: %llu.%03llu ms  statement: "
                      "UPDATE orders SET status = 'priced', price_cents = %llu, updated_at = now() WHERE id = %llu "
                      "AND status = 'calculating' RETURNING id, status\n",
                      static_cast<int>(i / 1000 % 60), static_cast<unsigned long long>(i % 4),
                      static_cast<unsigned long long>(1000 + i % 30000), static_cast<unsigned long long>(i % 300),
                      static_cast<unsigned long long>(i % 1000), static_cast<unsigned long long>(1000 + i % 99000),
                      static_cast<unsigned long long>(100000 + i % 900000));
  }
  return std::string(buf, n);
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5));
  return v[i];
}

int ConnectTcp(const std::string& host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

}  // namespace sluice::bench
