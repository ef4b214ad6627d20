#pragma once
// `type: file`: events as NDJSON lines (the document without @metadata). The
// embedded default output when no Elasticsearch is configured. A batch counts
// as delivered once its lines are written and flushed to the OS.

#include <cstdio>
#include <mutex>
#include <string>

#include "common/metrics.h"
#include "pipeline/component.h"

namespace sluice {

struct FileSinkConfig {
  std::string id = "file";
  std::string path;
};

class FileSink : public Sink {
 public:
  FileSink(FileSinkConfig cfg, MetricsRegistry* metrics);
  ~FileSink() override;
  std::string_view name() const override { return cfg_.id; }
  absl::Status Start() override;
  void Submit(BatchPtr batch) override;
  void Stop(int64_t deadline_ms) override;

 private:
  FileSinkConfig cfg_;
  ComponentMetrics metrics_;
  std::mutex mu_;
  FILE* file_ = nullptr;
  std::string buf_;
};

}  // namespace sluice
