// Sends syslog lines over TCP as fast as the receiver takes them (or at
// --rate messages/s): half RFC 5424 (with structured data), half RFC 3164,
// ~250 bytes, LF framing (what rsyslog omfwd sends by default). Used by
// bench/run_syslog_vs_rsyslog.sh to drive sluice and rsyslog with the same
// traffic.
//
//   syslog_loadgen --port P --messages N [--connections C] [--rate MPS] [--duration S]

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/loadgen/load.h"

int main(int argc, char** argv) {
  sluice::bench::LoadLimits o;
  o.events = 1'000'000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--port") o.port = std::atoi(argv[i + 1]);
    else if (a == "--messages") o.events = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--connections") o.connections = std::atoi(argv[i + 1]);
    else if (a == "--rate") o.rate = std::atof(argv[i + 1]);
    else if (a == "--duration") o.duration_s = std::atof(argv[i + 1]);
  }
  if (o.port <= 0 || o.connections <= 0) {
    std::fprintf(stderr,
                 "usage: syslog_loadgen --port P [--messages N] [--connections C] [--rate MPS] [--duration S]\n");
    return 2;
  }
  if (o.duration_s > 0) o.events = 0;
  // One buffer of distinct lines, sent round and round.
  std::vector<std::string> lines;
  for (uint64_t i = 0; i < 20000; ++i) lines.push_back(sluice::bench::SyslogLine(i));
  const sluice::bench::LineBuffer buffer(lines);
  sluice::bench::LoadCounters counters;
  auto t0 = std::chrono::steady_clock::now();
  sluice::bench::RunSyslogLoad(o, buffer, &counters);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "syslog_loadgen: %llu messages sent in %.2f s\n",
               static_cast<unsigned long long>(counters.sent.load()), s);
  return counters.errors.load() == 0 ? 0 : 1;
}
