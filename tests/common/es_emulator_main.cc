// sluice-es-emulator: the Elasticsearch `_bulk` emulator as a standalone
// process, the "fast local bulk endpoint" of the benchmarks.
//
//   sluice-es-emulator [--listen 127.0.0.1:PORT] [--fast] [--stats-file PATH]
//                      [--max-content-length BYTES] [--data-stream NAME]...
//                      [--username U --password P] [--api-key KEY]
//                      [--tls-certificate PEM --tls-key PEM [--tls-client-ca PEM]]
//
// Prints the bound port on stdout as the first line (use port 0 to pick one).
// Counters: GET /_stats, and --stats-file (rewritten every second and at exit).
// Stops on SIGINT/SIGTERM.

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "common/es_emulator.h"
#include "common/test_util.h"

namespace {
volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

void WriteStats(const std::string& path, const std::string& json) {
  if (path.empty()) return;
  std::string tmp = path + ".tmp";
  sluice::testing::WriteFile(tmp, json + "\n");
  std::rename(tmp.c_str(), path.c_str());
}
}  // namespace

int main(int argc, char** argv) {
  sluice::testing::EsEmulatorOptions opts;
  std::string stats_file;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--listen") opts.listen = next();
    else if (a == "--fast") opts.fast = true;
    else if (a == "--stats-file") stats_file = next();
    else if (a == "--max-content-length") opts.max_content_length = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--data-stream") opts.data_streams.push_back(next());
    else if (a == "--username") opts.username = next();
    else if (a == "--password") opts.password = next();
    else if (a == "--api-key") opts.api_key = next();
    else if (a == "--tls-certificate") opts.tls_certificate = next();
    else if (a == "--tls-key") opts.tls_key = next();
    else if (a == "--tls-client-ca") opts.tls_client_ca = next();
    else {
      std::fprintf(stderr,
                   "usage: sluice-es-emulator [--listen HOST:PORT] [--fast] [--stats-file PATH]\n"
                   "  [--max-content-length BYTES] [--data-stream NAME]... [--username U --password P]\n"
                   "  [--api-key KEY] [--tls-certificate PEM --tls-key PEM [--tls-client-ca PEM]]\n");
      return 2;
    }
  }
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  signal(SIGPIPE, SIG_IGN);
  sluice::testing::EsEmulator emu(opts);
  if (auto s = emu.Start(); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf("%d\n", emu.port());
  std::fflush(stdout);
  std::fprintf(stderr, "es emulator listening on %s%s\n", emu.url().c_str(), opts.fast ? " (fast)" : "");
  auto last = std::chrono::steady_clock::now();
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (std::chrono::steady_clock::now() - last >= std::chrono::seconds(1)) {
      WriteStats(stats_file, emu.StatsJson());
      last = std::chrono::steady_clock::now();
    }
  }
  emu.Stop();
  WriteStats(stats_file, emu.StatsJson());
  return 0;
}
