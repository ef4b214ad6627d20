// A Lumberjack v2 load generator that behaves like Filebeat's output.logstash:
// windows of --window events (2048), --pipelining windows in flight (2), plain
// or zlib-compressed (--compression 0..9, Filebeat's default is 3), events
// shaped like Filebeat's (~500 bytes). It reads and checks every ACK (the ACK
// of a window must equal its event count; ACK 0 is a heartbeat) and reports
// events/s, ACK latency percentiles, and — with --pid — the CPU seconds and
// peak RSS of the sluice process under test, read from /proc.
//
// By default 8 windows of distinct events are built and sent round and round:
// every 16,384 events (at --window 2048) the same log.offset and @timestamp
// come again. --distinct N builds N distinct events (rounded up to whole
// windows) instead, so that a stream of up to N events never repeats one, as
// a real Filebeat's never does (each line a new offset, time moving on): what
// a rule keyed by the line (a duplicate fingerprint of log.file.path and
// log.offset) meets in production. Built before the measured run: ~0.55 KiB
// of memory and ~5-10 µs per distinct event (2M: 1.1 GiB, 10-20 s).
//
// --fleet: each window holds one host's events, the 16 hosts' windows in
// turn (16 windows, not 8, unless --distinct), the event times still in order
// from one window to the next: what sluice gets from 16 Filebeats, each
// shipping its own host's logs. By default every event comes from the next of
// the 16 hosts, which no single Filebeat does.
// --warmup N (with --pid): also sluice's events per CPU-second after the
// first N events are ACKed (sluice_events_per_cpu_second_after_warmup): the
// steady state, without the start's one-time work (the rules' tables growing
// to their caps and their pages faulted in).
//
//   lumberjack_loadgen --port 5044 --events 2000000 --compression 3 --pid $(pidof sluice)

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/loadgen/load.h"
#include "bench/loadgen_event.h"
#include "bench/proc_stats.h"

namespace {
using sluice::bench::MakeEvent;
using sluice::bench::Percentile;

int Usage() {
  std::fprintf(stderr,
               "usage: lumberjack_loadgen [--host H] [--port P] [--events N | --duration S] [--window 2048]\n"
               "       [--pipelining 2] [--compression 0-9] [--connections 1] [--event-bytes 500] [--rate EPS]\n"
               "       [--distinct N] [--fleet] [--pid SLUICE_PID] [--warmup N] [--json-out FILE] [--quiet]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  sluice::bench::LumberjackOptions o;
  sluice::bench::LoadLimits& l = o.limits;
  l.port = 5044;
  l.events = 1'000'000;
  int event_bytes = 500, pid = 0;
  uint64_t warmup = 0;  // events ACKed before the steady-state figures start
  uint64_t distinct = 0;  // 0: 8 windows
  bool quiet = false, fleet = false;
  std::string json_out;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--host") l.host = next();
    else if (a == "--port") l.port = std::atoi(next().c_str());
    else if (a == "--events") l.events = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--duration") l.duration_s = std::atof(next().c_str());
    else if (a == "--window") o.window = std::atoi(next().c_str());
    else if (a == "--pipelining") o.pipelining = std::atoi(next().c_str());
    else if (a == "--compression") o.compression = std::atoi(next().c_str());
    else if (a == "--connections") l.connections = std::atoi(next().c_str());
    else if (a == "--event-bytes") event_bytes = std::atoi(next().c_str());
    else if (a == "--rate") l.rate = std::atof(next().c_str());
    else if (a == "--distinct") distinct = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--pid") pid = std::atoi(next().c_str());
    else if (a == "--warmup") warmup = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--json-out") json_out = next();
    else if (a == "--fleet") fleet = true;
    else if (a == "--quiet") quiet = true;
    else return Usage();
  }
  if (o.window <= 0 || l.connections <= 0) return Usage();
  if (l.duration_s > 0) l.events = 0;  // --duration wins over the default --events

  // The distinct events' windows (8 unless --distinct), sent round and round;
  // built 8 windows at a time so that only the encoded windows stay in memory.
  const uint64_t window = static_cast<uint64_t>(o.window);
  const uint64_t n_windows =
      distinct > 0 ? (distinct + window - 1) / window : fleet ? static_cast<uint64_t>(sluice::bench::kEventHosts) : 8;
  std::vector<std::string> windows;
  windows.reserve(n_windows);
  for (uint64_t w = 0; w < n_windows; w += 8) {
    const uint64_t k = std::min<uint64_t>(8, n_windows - w);
    std::vector<std::string> events;
    for (uint64_t n = w * window; n < (w + k) * window; ++n) {
      const int host = fleet ? static_cast<int>(n / window % sluice::bench::kEventHosts) : -1;
      events.push_back(MakeEvent(n, event_bytes, host));
    }
    for (std::string& x : sluice::bench::EncodeWindows(events, o.window, o.compression)) windows.push_back(std::move(x));
    if (!quiet && n_windows > 64 && (w / 8) % 64 == 0) {
      std::fprintf(stderr, "\rloadgen: building %llu distinct events: %llu%%   ",
                   static_cast<unsigned long long>(n_windows * window),
                   static_cast<unsigned long long>(100 * w / n_windows));
    }
  }
  if (!quiet && n_windows > 64) std::fprintf(stderr, "\n");
  uint64_t wire_bytes = 0;
  for (const auto& w : windows) wire_bytes += w.size();
  const double wire_bytes_per_event = static_cast<double>(wire_bytes) / static_cast<double>(n_windows * window);
  const double mean_event_bytes = MakeEvent(1, event_bytes).size();

  sluice::bench::ProcSample before = sluice::bench::ReadProc(pid);
  sluice::bench::LoadCounters sh;
  auto t0 = std::chrono::steady_clock::now();
  std::thread sender([&] { sluice::bench::RunLumberjackLoad(o, windows, &sh); });
  std::atomic<bool> finished{false};
  // --warmup N: sluice's CPU time once N events are ACKed (checked every
  // 100 ms), for figures that leave out the start (tables growing to their
  // size, pages faulted in).
  sluice::bench::ProcSample warm;
  uint64_t warm_acked = 0;
  auto check_warm = [&] {
    if (warmup == 0 || warm_acked > 0) return;
    const uint64_t a = sh.acked.load();
    if (a < warmup) return;
    warm = sluice::bench::ReadProc(pid);
    warm_acked = a;
  };
  std::thread progress([&] {
    uint64_t last = 0;
    while (!finished) {
      for (int i = 0; i < 10 && !finished; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        check_warm();
      }
      if (finished) break;
      if (quiet) continue;
      uint64_t a = sh.acked.load();
      std::fprintf(stderr, "\rloadgen: %llu events ACKed (%.0f/s)   ", static_cast<unsigned long long>(a), (a - last) / 1.0);
      last = a;
    }
  });
  sender.join();
  finished = true;
  progress.join();
  if (!quiet) std::fprintf(stderr, "\n");
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  sluice::bench::ProcSample after = sluice::bench::ReadProc(pid);

  double eps = sh.acked / secs;
  const std::vector<double> latencies = sh.TakeLatencies(/*include_tail=*/true);
  double cpu = after.cpu_seconds - before.cpu_seconds;
  std::ostringstream js;
  js << "{\"events_acked\":" << sh.acked.load() << ",\"events_sent\":" << sh.sent.load() << ",\"seconds\":" << secs
     << ",\"events_per_second\":" << eps << ",\"event_bytes\":" << mean_event_bytes
     << ",\"wire_bytes_per_event\":" << wire_bytes_per_event << ",\"compression\":" << o.compression
     << ",\"ack_latency_ms\":{\"p50\":" << Percentile(latencies, 0.5) << ",\"p99\":" << Percentile(latencies, 0.99)
     << ",\"p999\":" << Percentile(latencies, 0.999) << "},\"heartbeats\":" << sh.heartbeats.load()
     << ",\"errors\":" << sh.errors.load() << ",\"distinct_events\":" << n_windows * window;
  if (pid > 0) {
    js << ",\"sluice_cpu_seconds\":" << cpu << ",\"sluice_user_cpu_seconds\":" << after.user_seconds - before.user_seconds
       << ",\"sluice_system_cpu_seconds\":" << after.system_seconds - before.system_seconds
       << ",\"sluice_events_per_cpu_second\":" << (cpu > 0 ? sh.acked / cpu : 0)
       << ",\"sluice_peak_rss_mib\":" << after.peak_rss_kib / 1024.0 << ",\"sluice_rss_mib\":" << after.rss_kib / 1024.0;
    if (warm_acked > 0) {
      const double warm_cpu = after.cpu_seconds - warm.cpu_seconds;
      js << ",\"warmup_events\":" << warm_acked << ",\"sluice_events_per_cpu_second_after_warmup\":"
         << (warm_cpu > 0 ? static_cast<double>(sh.acked.load() - warm_acked) / warm_cpu : 0);
    }
  }
  js << "}";
  std::printf("%s\n", js.str().c_str());
  if (!json_out.empty()) std::ofstream(json_out) << js.str() << "\n";
  return sh.errors.load() == 0 ? 0 : 1;
}
