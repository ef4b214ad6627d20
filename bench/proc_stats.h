#pragma once
// CPU time and memory of a process, read from /proc (for benchmarks).

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace sluice::bench {

struct ProcSample {
  double cpu_seconds = 0;     // user + system, all threads
  double user_seconds = 0;    // of which in user space
  double system_seconds = 0;  // and in the kernel
  long rss_kib = 0;        // VmRSS
  long peak_rss_kib = 0;   // VmHWM
};

inline ProcSample ReadProc(int pid) {
  ProcSample s;
  if (pid <= 0) return s;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (std::getline(stat, line)) {
    // Fields after the ")" of the command name: state is field 3; utime 14, stime 15.
    size_t rp = line.rfind(')');
    std::istringstream in(line.substr(rp + 2));
    std::string f;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && (in >> f); ++i) {
      if (i == 14) utime = std::stoull(f);
      if (i == 15) stime = std::stoull(f);
    }
    const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
    s.user_seconds = static_cast<double>(utime) / hz;
    s.system_seconds = static_cast<double>(stime) / hz;
    s.cpu_seconds = s.user_seconds + s.system_seconds;
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kib = std::atol(line.c_str() + 6);
    if (line.rfind("VmHWM:", 0) == 0) s.peak_rss_kib = std::atol(line.c_str() + 6);
  }
  return s;
}

}  // namespace sluice::bench
