#pragma once
// Alert sinks available before Alertmanager: the log and a JSON-lines file.

#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "detectors/common/alert.h"
#include "pipeline/component.h"

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

// Alert documents through the outputs, like events: each state change becomes
// one JSON document (AlertToJson plus @timestamp) with @metadata.index set to
// the alerts index, so the Elasticsearch output puts it there and the file
// output writes it beside the events. Batches are marked internal, so rules
// never see them. When the pipeline is full, documents wait in a bounded list
// (oldest dropped beyond `max_pending`, counted) and go with the next push.
class AlertDocumentSink : public AlertSink {
 public:
  AlertDocumentSink(std::string index, BatchReceiver* receiver, MetricsRegistry* metrics, size_t max_pending = 10'000);
  void Emit(const Alert& alert) override;
  // Pushes what waits (called on Emit and when the pipeline has room again).
  void Flush();

 private:
  std::string index_;
  BatchReceiver* receiver_;
  ComponentMetrics metrics_;
  size_t max_pending_;
  std::mutex mu_;
  std::vector<std::string> pending_;
  bool waiting_ = false;
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
