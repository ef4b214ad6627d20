#pragma once
// Child processes (sluice, the bulk endpoint, rsyslogd) and the little HTTP
// the driver needs to watch them, on loopback.

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sluice::bench::capacity {

class ChildProcess {
 public:
  // Starts argv[0] (searched in PATH) with stdout and stderr appended to the
  // given files. nullptr with *error if it cannot be started.
  static std::unique_ptr<ChildProcess> Start(const std::vector<std::string>& argv, const std::string& stdout_file,
                                             const std::string& stderr_file, std::string* error);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool Running();
  // SIGTERM, then SIGKILL if it has not exited within `grace_seconds`.
  void Stop(double grace_seconds = 10);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  bool reaped_ = false;
};

// A loopback TCP port that was free a moment ago.
int FreePort();

// GET http://127.0.0.1:port/path (Connection: close). False if the request
// failed or the status is not 200.
bool HttpGet(int port, const std::string& path, std::string* body);

// Polls `done` every 20 ms until it returns true (true) or `seconds` pass (false).
bool WaitUntil(const std::function<bool()>& done, double seconds);

std::string ReadFileText(const std::string& path);
bool WriteFileText(const std::string& path, const std::string& text);

}  // namespace sluice::bench::capacity
