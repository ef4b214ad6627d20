// Sends syslog lines over TCP as fast as the receiver takes them: half RFC 5424
// (with structured data), half RFC 3164, ~250 bytes, LF framing (what rsyslog
// omfwd sends by default). Used by bench/run_syslog_vs_rsyslog.sh to drive
// sluice and rsyslog with the same traffic.
//
//   syslog_loadgen --port P --messages N [--connections C]

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string Line(uint64_t i) {
  char buf[512];
  int n;
  if (i % 2 == 0) {
    n = std::snprintf(buf, sizeof buf,
                      "<134>1 2026-11-21T05:30:%02d.%06lluZ mes-core-%llu mes-api 4242 ORDER [meta@32473 order=\"%llu\" "
                      "stage=\"price\"] calculation stage 3 finished for order %llu in %llu ms, model 3d-%llu.stl\n",
                      static_cast<int>(i / 1000 % 60), static_cast<unsigned long long>(i % 1000000),
                      static_cast<unsigned long long>(i % 8), static_cast<unsigned long long>(100000 + i % 900000),
                      static_cast<unsigned long long>(100000 + i % 900000), static_cast<unsigned long long>(i % 977),
                      static_cast<unsigned long long>(i % 5000));
  } else {
    n = std::snprintf(buf, sizeof buf,
                      "<30>Nov 21 05:30:%02d shop-db-%llu postgres[%llu]: LOG:  duration: %llu.%03llu ms  statement: "
                      "UPDATE orders SET status = 'priced' WHERE id = %llu\n",
                      static_cast<int>(i / 1000 % 60), static_cast<unsigned long long>(i % 4),
                      static_cast<unsigned long long>(1000 + i % 30000), static_cast<unsigned long long>(i % 300),
                      static_cast<unsigned long long>(i % 1000), static_cast<unsigned long long>(100000 + i % 900000));
  }
  return std::string(buf, n);
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0, connections = 1;
  uint64_t messages = 1'000'000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--port") port = std::atoi(argv[i + 1]);
    else if (a == "--messages") messages = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--connections") connections = std::atoi(argv[i + 1]);
  }
  if (port <= 0) {
    std::fprintf(stderr, "usage: syslog_loadgen --port P [--messages N] [--connections C]\n");
    return 2;
  }
  // One buffer of distinct lines, sent round and round.
  std::string buf;
  std::vector<size_t> offsets;
  const uint64_t kDistinct = 20000;
  for (uint64_t i = 0; i < kDistinct; ++i) {
    offsets.push_back(buf.size());
    buf += Line(i);
  }
  offsets.push_back(buf.size());
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  uint64_t per = messages / connections;
  for (int c = 0; c < connections; ++c) {
    uint64_t n = c == connections - 1 ? messages - per * (connections - 1) : per;
    threads.emplace_back([&, n] {
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
      if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        std::perror("connect");
        std::exit(1);
      }
      uint64_t sent = 0;
      while (sent < n) {
        uint64_t chunk = std::min<uint64_t>(n - sent, kDistinct);
        const char* p = buf.data();
        size_t len = offsets[chunk];
        while (len > 0) {
          ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
          if (w <= 0) {
            std::perror("send");
            std::exit(1);
          }
          p += w;
          len -= w;
        }
        sent += chunk;
      }
      close(fd);
    });
  }
  for (auto& t : threads) t.join();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "syslog_loadgen: %llu messages sent in %.2f s\n", static_cast<unsigned long long>(messages), s);
  return 0;
}
