// A Lumberjack v2 load generator that behaves like Filebeat's output.logstash:
// windows of --window events (2048), --pipelining windows in flight (2), plain
// or zlib-compressed (--compression 0..9, Filebeat's default is 3), events
// shaped like Filebeat's (~500 bytes). It reads and checks every ACK (the ACK
// of a window must equal its event count; ACK 0 is a heartbeat) and reports
// events/s, ACK latency percentiles, and — with --pid — the CPU seconds and
// peak RSS of the sluice process under test, read from /proc.
//
//   lumberjack_loadgen --port 5044 --events 2000000 --compression 3 --pid $(pidof sluice)

#include <arpa/inet.h>
#include <libdeflate.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "bench/loadgen_event.h"
#include <vector>

#include "bench/proc_stats.h"

namespace {
using sluice::bench::MakeEvent;

struct Options {
  std::string host = "127.0.0.1";
  int port = 5044;
  uint64_t events = 1'000'000;
  double duration_s = 0;  // if > 0, run for this long instead of --events
  int window = 2048;
  int pipelining = 2;
  int compression = 0;
  int connections = 1;
  int event_bytes = 500;
  double rate = 0;  // events/s over all connections; 0 = as fast as possible
  int pid = 0;
  bool quiet = false;
  std::string json_out;
};

void PutU32(std::string* s, uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
  s->append(b, 4);
}

// One Filebeat-shaped event, padded to about `target` bytes.
// A window on the wire: W, then J frames (plain) or one C frame wrapping them.
std::string EncodeWindow(uint64_t first, int count, const Options& o, libdeflate_compressor* comp) {
  std::string frames;
  for (int i = 0; i < count; ++i) {
    std::string ev = MakeEvent(first + i, o.event_bytes);
    frames += "2J";
    PutU32(&frames, i + 1);
    PutU32(&frames, ev.size());
    frames += ev;
  }
  std::string out = "2W";
  PutU32(&out, count);
  if (o.compression == 0) return out + frames;
  std::string z(libdeflate_zlib_compress_bound(comp, frames.size()), '\0');
  size_t n = libdeflate_zlib_compress(comp, frames.data(), frames.size(), z.data(), z.size());
  out += "2C";
  PutU32(&out, n);
  out.append(z.data(), n);
  return out;
}

struct Shared {
  std::atomic<uint64_t> sent{0}, acked{0}, heartbeats{0}, errors{0};
  std::mutex mu;
  std::vector<double> latencies_ms;
};

bool ReadExact(int fd, char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = recv(fd, buf + got, n - got, 0);
    if (r <= 0) return false;
    got += r;
  }
  return true;
}

void RunConnection(const Options& o, const std::vector<std::string>& windows, uint64_t quota,
                   std::chrono::steady_clock::time_point end, Shared* sh) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(o.port);
  inet_pton(AF_INET, o.host.c_str(), &a.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("connect");
    sh->errors++;
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct Pending {
    std::chrono::steady_clock::time_point sent_at;
    uint32_t count;
  };
  std::deque<Pending> pending;
  uint64_t sent = 0;
  size_t wi = 0;
  const double per_conn_rate = o.rate > 0 ? o.rate / o.connections : 0;
  auto start = std::chrono::steady_clock::now();
  auto done_sending = [&] {
    if (o.duration_s > 0) return std::chrono::steady_clock::now() >= end;
    return sent >= quota;
  };
  while (true) {
    while (!done_sending() && static_cast<int>(pending.size()) < std::max(1, o.pipelining)) {
      if (per_conn_rate > 0) {
        auto due = start + std::chrono::duration<double>(sent / per_conn_rate);
        if (due > std::chrono::steady_clock::now() && !pending.empty()) break;
        std::this_thread::sleep_until(due);
      }
      const std::string& w = windows[wi++ % windows.size()];
      if (send(fd, w.data(), w.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(w.size())) {
        sh->errors++;
        close(fd);
        return;
      }
      pending.push_back({std::chrono::steady_clock::now(), static_cast<uint32_t>(o.window)});
      sent += o.window;
      sh->sent += o.window;
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
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - pending.front().sent_at).count();
    {
      std::lock_guard<std::mutex> lock(sh->mu);
      sh->latencies_ms.push_back(ms);
    }
    sh->acked += pending.front().count;
    pending.pop_front();
  }
  close(fd);
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5));
  return v[i];
}

int Usage() {
  std::fprintf(stderr,
               "usage: lumberjack_loadgen [--host H] [--port P] [--events N | --duration S] [--window 2048]\n"
               "       [--pipelining 2] [--compression 0-9] [--connections 1] [--event-bytes 500] [--rate EPS]\n"
               "       [--pid SLUICE_PID] [--json-out FILE] [--quiet]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--host") o.host = next();
    else if (a == "--port") o.port = std::atoi(next().c_str());
    else if (a == "--events") o.events = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--duration") o.duration_s = std::atof(next().c_str());
    else if (a == "--window") o.window = std::atoi(next().c_str());
    else if (a == "--pipelining") o.pipelining = std::atoi(next().c_str());
    else if (a == "--compression") o.compression = std::atoi(next().c_str());
    else if (a == "--connections") o.connections = std::atoi(next().c_str());
    else if (a == "--event-bytes") o.event_bytes = std::atoi(next().c_str());
    else if (a == "--rate") o.rate = std::atof(next().c_str());
    else if (a == "--pid") o.pid = std::atoi(next().c_str());
    else if (a == "--json-out") o.json_out = next();
    else if (a == "--quiet") o.quiet = true;
    else return Usage();
  }
  if (o.window <= 0 || o.connections <= 0) return Usage();

  libdeflate_compressor* comp = libdeflate_alloc_compressor(o.compression > 0 ? o.compression : 1);
  std::vector<std::string> windows;
  uint64_t wire_bytes = 0;
  for (int i = 0; i < 8; ++i) {
    windows.push_back(EncodeWindow(static_cast<uint64_t>(i) * o.window, o.window, o, comp));
    wire_bytes += windows.back().size();
  }
  libdeflate_free_compressor(comp);
  const double wire_bytes_per_event = static_cast<double>(wire_bytes) / (8.0 * o.window);
  const double event_bytes = MakeEvent(1, o.event_bytes).size();

  sluice::bench::ProcSample before = sluice::bench::ReadProc(o.pid);
  Shared sh;
  auto t0 = std::chrono::steady_clock::now();
  auto end = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(o.duration_s));
  uint64_t quota = (o.events + o.connections - 1) / o.connections;
  quota = (quota + o.window - 1) / o.window * o.window;
  std::vector<std::thread> threads;
  for (int c = 0; c < o.connections; ++c) threads.emplace_back(RunConnection, std::cref(o), std::cref(windows), quota, end, &sh);
  std::atomic<bool> finished{false};
  std::thread progress([&] {
    uint64_t last = 0;
    while (!finished) {
      for (int i = 0; i < 10 && !finished; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (finished || o.quiet) break;
      uint64_t a = sh.acked.load();
      std::fprintf(stderr, "\rloadgen: %llu events ACKed (%.0f/s)   ", static_cast<unsigned long long>(a), (a - last) / 1.0);
      last = a;
    }
  });
  for (auto& t : threads) t.join();
  finished = true;
  progress.join();
  if (!o.quiet) std::fprintf(stderr, "\n");
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  sluice::bench::ProcSample after = sluice::bench::ReadProc(o.pid);

  double eps = sh.acked / secs;
  double cpu = after.cpu_seconds - before.cpu_seconds;
  std::ostringstream js;
  js << "{\"events_acked\":" << sh.acked.load() << ",\"events_sent\":" << sh.sent.load() << ",\"seconds\":" << secs
     << ",\"events_per_second\":" << eps << ",\"event_bytes\":" << event_bytes
     << ",\"wire_bytes_per_event\":" << wire_bytes_per_event << ",\"compression\":" << o.compression
     << ",\"ack_latency_ms\":{\"p50\":" << Percentile(sh.latencies_ms, 0.5) << ",\"p99\":" << Percentile(sh.latencies_ms, 0.99)
     << ",\"p999\":" << Percentile(sh.latencies_ms, 0.999) << "},\"heartbeats\":" << sh.heartbeats.load()
     << ",\"errors\":" << sh.errors.load();
  if (o.pid > 0) {
    js << ",\"sluice_cpu_seconds\":" << cpu << ",\"sluice_events_per_cpu_second\":" << (cpu > 0 ? sh.acked / cpu : 0)
       << ",\"sluice_peak_rss_mib\":" << after.peak_rss_kib / 1024.0 << ",\"sluice_rss_mib\":" << after.rss_kib / 1024.0;
  }
  js << "}";
  std::printf("%s\n", js.str().c_str());
  if (!o.json_out.empty()) std::ofstream(o.json_out) << js.str() << "\n";
  return sh.errors.load() == 0 ? 0 : 1;
}
