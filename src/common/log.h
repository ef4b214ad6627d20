#pragma once
// Minimal structured logging to stderr. Library code logs through these
// functions; only main() decides the level. Messages from the data path that
// can repeat per event or per connection go through a RateLimitedLog.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

#include "common/strings.h"

namespace sluice {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
void LogLine(LogLevel level, std::string_view component, std::string_view message);

template <typename... Args>
void Log(LogLevel level, std::string_view component, const Args&... args) {
  if (LogEnabled(level)) LogLine(level, component, StrCat(args...));
}
#define SLUICE_LOG_INFO(component, ...) ::sluice::Log(::sluice::LogLevel::kInfo, component, __VA_ARGS__)
#define SLUICE_LOG_WARN(component, ...) ::sluice::Log(::sluice::LogLevel::kWarn, component, __VA_ARGS__)
#define SLUICE_LOG_ERROR(component, ...) ::sluice::Log(::sluice::LogLevel::kError, component, __VA_ARGS__)
#define SLUICE_LOG_DEBUG(component, ...) ::sluice::Log(::sluice::LogLevel::kDebug, component, __VA_ARGS__)

// Lets through at most `burst` messages per `period`; counts the rest and
// reports how many were suppressed with the next message that gets through.
class RateLimitedLog {
 public:
  explicit RateLimitedLog(int burst = 10, std::chrono::seconds period = std::chrono::seconds(10))
      : burst_(burst), period_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(period).count()) {}

  template <typename... Args>
  void Warn(std::string_view component, const Args&... args) {
    uint64_t suppressed = 0;
    if (!Admit(&suppressed)) return;
    std::string msg = StrCat(args...);
    if (suppressed > 0) StrAppend(&msg, " (", suppressed, " similar messages suppressed)");
    LogLine(LogLevel::kWarn, component, msg);
  }

 private:
  bool Admit(uint64_t* suppressed);

  const int burst_;
  const int64_t period_ns_;
  std::atomic<int64_t> window_start_ns_{0};
  std::atomic<int> in_window_{0};
  std::atomic<uint64_t> suppressed_{0};
};

}  // namespace sluice
