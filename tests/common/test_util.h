#pragma once
// Helpers shared by the tests: polling with a deadline (never sleep to wait),
// temporary directories, child processes for real peers, small socket clients.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace sluice::testing {

// Polls `cond` every few milliseconds until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A fresh directory under $TMPDIR, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A child process (a real peer: node, logger, rsyslogd, alertmanager).
// Killed (SIGTERM, then SIGKILL) by the destructor.
class Subprocess {
 public:
  // argv[0] is looked up in PATH. stdout/stderr go to `log_path` if given.
  Subprocess(std::vector<std::string> argv, std::string log_path = "", std::vector<std::string> extra_env = {});
  ~Subprocess();
  pid_t pid() const { return pid_; }
  bool ok() const { return pid_ > 0; }
  // Waits for exit; returns the exit code (or -signal), or nullopt-like -1000 on timeout.
  int Wait(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  bool Running();
  void Kill(int sig);

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

// Runs a command to completion, returning its exit code; output appended to *out if given.
int RunCommand(const std::vector<std::string>& argv, std::string* out = nullptr,
               std::chrono::milliseconds timeout = std::chrono::seconds(120));

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& content);
std::vector<std::string> ReadLines(const std::string& path);

// SLUICE_SOURCE_DIR / SLUICE_BINARY_DIR from the CTest environment.
std::string SourceDir();
std::string BinaryDir();

// A free TCP port on 127.0.0.1 (for peers that cannot bind port 0 themselves).
int FreeTcpPort();

// Blocking plain-TCP client for tests.
class TcpClient {
 public:
  TcpClient() = default;
  ~TcpClient();
  bool Connect(const std::string& host, int port);
  bool WriteAll(const std::string& data);
  // Reads exactly n bytes (false on EOF/error/timeout).
  bool ReadExact(size_t n, std::string* out, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // True if the peer closed the connection within the timeout.
  bool WaitClosed(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void Close();
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// A minimal blocking HTTP/1.1 request (Connection: close). Returns the status
// code (0 on a connection error) and fills *body.
int HttpRequest(const std::string& address, const std::string& method, const std::string& path,
                std::string* body, const std::string& request_body = "",
                const std::vector<std::string>& headers = {});

// Parses "host:port".
int PortOf(const std::string& address);

}  // namespace sluice::testing
