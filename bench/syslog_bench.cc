// Syslog input throughput. Two figures:
//  1. parse + ECS write of ~250-byte RFC 5424 and RFC 3164 lines, one thread
//     (the per-message cost of src/ingest/syslog);
//  2. end to end in one sluice: a forked sender writes N messages over TCP,
//     sluice frames, parses, writes ECS, runs the pipeline (simdjson) and the
//     file output to /dev/null; reported per sluice CPU-second (getrusage of
//     the sluice process only; the sender is another process).
// Usage: syslog_bench [N] [--lines FILE] [--stage1-only]
//   --lines FILE: the traffic is FILE's lines, repeated to N messages (e.g. a
//   capture of what syslog_loadgen sends: the run_syslog_vs_rsyslog.sh mix);
//   default: built-in lines of ~243 bytes. Stage 1 runs 5 times over the same
//   traffic and prints each run and the median.

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "common/strings.h"
#include "ingest/syslog/ecs_writer.h"
#include "ingest/syslog/framing.h"
#include "ingest/syslog/syslog_parser.h"
#include "pipeline/app.h"

using namespace sluice;

namespace {

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::string Traffic(int n) {
  std::string data;
  for (int i = 0; i < n; ++i) {
    std::string m =
        i % 2 ? StrCat("<134>1 2026-11-21T05:31:00.438655+00:00 shop-api-7 orders 4242 ORD [meta@1 q=\"orders\"] order ",
                       i, " entered queue orders.created customer=c-1832 sku=PRT-3D-0042 price=17.40 EUR latency_ms=12 ",
                       "trace=4bf92f3577b34da6a3ce929d0e0e4736 span=00f067aa0ba902b7 status=ok")
              : StrCat("<134>Nov 21 05:31:00 mes-3 calc[7]: order ", i,
                       " calculation stage mesh-repair finished in 812 ms model=s3://models/o-1832.stl size=18MB ",
                       "worker=w-17 queue=mes.calc attempts=1 result=ok trace=4bf92f3577b34da6a3ce929d0e0e4736");
    data += m + "\n";
  }
  return data;
}

// FILE's lines (LF-terminated), repeated until there are n.
std::string TrafficFromFile(const char* path, int n) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(ss, line)) {
    if (!line.empty()) lines.push_back(line + "\n");
  }
  std::string data;
  for (int i = 0; i < n && !lines.empty(); ++i) data += lines[i % lines.size()];
  return data;
}

}  // namespace

int main(int argc, char** argv) {
  int n = 2'000'000;
  const char* lines_file = nullptr;
  bool stage1_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--lines" && i + 1 < argc) lines_file = argv[++i];
    else if (a == "--stage1-only") stage1_only = true;
    else n = std::atoi(argv[i]);
  }
  const std::string data = lines_file ? TrafficFromFile(lines_file, n) : Traffic(n);
  if (data.empty()) {
    std::fprintf(stderr, "no traffic\n");
    return 2;
  }
  std::printf("%d messages, %.1f bytes each on average\n", n, static_cast<double>(data.size()) / n);

  // 1. Parser + writer.
  {
    std::vector<double> rates;
    for (int run = 0; run < 5; ++run) {
      syslog::Rfc3164Clock clock(absl::UTCTimeZone());
      clock.SetNow(1'795'000'000'000'000);
      syslog::FrameSplitter splitter(64 * 1024);
      std::string out;
      out.reserve(1 << 22);
      size_t events = 0;
      const double c0 = CpuSeconds();
      splitter.Split(data, [&](std::string_view frame, bool truncated) {
        syslog::SyslogMessage m;
        syslog::ParseSyslog(frame, clock, &m);
        syslog::EcsFrame f{frame, "10.0.0.7", 0, truncated};
        if (out.size() > (1 << 22) - 4096) out.clear();
        syslog::AppendEcsEvent(m, f, false, &out);
        ++events;
        return true;
      });
      const double cpu = CpuSeconds() - c0;
      rates.push_back(events / cpu);
      std::printf("frame+parse+ECS write: %zu events in %.3f CPU-s = %.0f events/CPU-s (%.1f ns/event)\n", events, cpu,
                  events / cpu, cpu * 1e9 / events);
    }
    std::sort(rates.begin(), rates.end());
    std::printf("frame+parse+ECS write, median of 5: %.0f events/CPU-s (%.1f ns/event)\n", rates[2], 1e9 / rates[2]);
    if (stage1_only) return 0;
  }

  // 2. End to end over TCP.
  auto app = App::Load(
      "data_dir: /tmp/sluice-syslog-bench\nhttp: {listen: \"\"}\n"
      "inputs:\n  - type: syslog\n    listen: 127.0.0.1:0\n"
      "outputs:\n  - type: file\n    path: /dev/null\n",
      "bench.yml", false);
  if (!app.ok() || !(*app)->Start().ok()) {
    std::fprintf(stderr, "cannot start sluice\n");
    return 1;
  }
  const std::string addr = (*app)->inputs()[0]->bound_address();
  const int port = std::atoi(addr.substr(addr.rfind(':') + 1).c_str());
  const double c0 = CpuSeconds();
  const auto t0 = std::chrono::steady_clock::now();
  pid_t child = fork();
  if (child == 0) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) _exit(1);
    size_t off = 0;
    while (off < data.size()) {
      ssize_t w = write(fd, data.data() + off, data.size() - off);
      if (w <= 0) _exit(2);
      off += w;
    }
    close(fd);
    _exit(0);
  }
  auto* m = (*app)->metrics();
  while (m->Sum("sluice_component_sent_events_total", {{"component", "file"}}) < n) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = CpuSeconds() - c0;
  int st;
  waitpid(child, &st, 0);
  std::printf("end to end (TCP -> syslog input -> pipeline -> file /dev/null): %d events, %.3f s wall, %.3f sluice "
              "CPU-s = %.0f events/CPU-s, %.0f events/s\n",
              n, wall, cpu, n / cpu, n / wall);
  (*app)->Shutdown();
  return 0;
}
