#pragma once
// Alert sinks available before Alertmanager: the log and a JSON-lines file.

#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "detectors/common/alert.h"

namespace sluice::detectors {

// One log line per state change.
class LogAlertSink : public AlertSink {
 public:
  void Emit(const Alert& alert) override;
};

// Appends one JSON object per state change to a file (directories created).
class FileAlertSink : public AlertSink {
 public:
  explicit FileAlertSink(std::string path) : path_(std::move(path)) {}
  ~FileAlertSink() override;
  absl::Status Open();
  void Emit(const Alert& alert) override;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::mutex mu_;
  FILE* f_ = nullptr;
};

// Sends every alert to each of several sinks (not owned).
class FanoutAlertSink : public AlertSink {
 public:
  void Add(AlertSink* s) { sinks_.push_back(s); }
  void Emit(const Alert& alert) override {
    for (AlertSink* s : sinks_) s->Emit(alert);
  }

 private:
  std::vector<AlertSink*> sinks_;
};

}  // namespace sluice::detectors
