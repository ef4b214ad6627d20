#pragma once
// A running sluice with syslog inputs and a file output, for in-process tests.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/strings.h"
#include "common/test_util.h"
#include "ecs_test_util.h"
#include "pipeline/app.h"

namespace sluice::syslog::testing {

class SyslogApp {
 public:
  // `inputs_yaml`: the list items under `inputs:` (each starting with "  - type: syslog").
  // `top_yaml`: more top-level keys; `outputs_yaml`: replaces the file output.
  explicit SyslogApp(const std::string& inputs_yaml, const std::string& top_yaml = "",
                     const std::string& outputs_yaml = "") {
    out_ = dir_.File("out.ndjson");
    std::string yaml = StrCat("data_dir: ", dir_.File("data"), "\nhttp: {listen: \"\"}\n", top_yaml, "inputs:\n",
                              inputs_yaml, "outputs:\n",
                              outputs_yaml.empty() ? StrCat("  - type: file\n    path: ", out_, "\n") : outputs_yaml);
    auto app = App::Load(yaml, "test.yml", false);
    EXPECT_TRUE(app.ok()) << app.status() << "\n" << yaml;
    if (!app.ok()) return;
    app_ = std::move(*app);
    auto st = app_->Start();
    EXPECT_TRUE(st.ok()) << st;
  }
  ~SyslogApp() {
    if (app_) app_->Shutdown();
  }
  bool ok() const { return app_ != nullptr; }
  App* app() { return app_.get(); }
  int Port(size_t input = 0) { return sluice::testing::PortOf(app_->inputs()[input]->bound_address()); }
  std::vector<std::string> Lines() { return sluice::testing::ReadLines(out_); }
  // Waits until at least n events were written; returns them.
  std::vector<std::string> WaitLines(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::vector<std::string> lines;
    sluice::testing::WaitFor(
        [&] {
          lines = Lines();
          return lines.size() >= n;
        },
        timeout);
    return lines;
  }
  double Metric(const std::string& name, const Labels& match) { return app_->metrics()->Sum(name, match); }
  const sluice::testing::TempDir& dir() const { return dir_; }

 private:
  sluice::testing::TempDir dir_;
  std::string out_;
  std::unique_ptr<App> app_;
};

inline bool SendUdp(int port, const std::string& datagram) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ssize_t n = ::sendto(fd, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::close(fd);
  return n == static_cast<ssize_t>(datagram.size());
}

// Lines whose `message` field equals `message`.
inline size_t CountMessage(const std::vector<std::string>& lines, const std::string& message) {
  size_t n = 0;
  for (const auto& l : lines) n += Field(l, "message") == message;
  return n;
}

// The first line whose `message` field equals `message` ("{}" if none).
inline std::string FindMessage(const std::vector<std::string>& lines, const std::string& message) {
  for (const auto& l : lines) {
    if (Field(l, "message") == message) return l;
  }
  return "{}";
}

}  // namespace sluice::syslog::testing
