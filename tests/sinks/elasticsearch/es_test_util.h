#pragma once
// Shared helpers of the Elasticsearch sink tests: a sink built from YAML with
// its own metrics, field registry and DLQ, and batches parsed like the pipeline does.

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/config_reader.h"
#include "common/metrics.h"
#include "common/strings.h"
#include "common/test_util.h"
#include "common/timeutil.h"
#include "pipeline/batch.h"
#include "pipeline/component.h"
#include "pipeline/dead_letter.h"
#include "pipeline/event_parser.h"
#include "sinks/elasticsearch/config.h"
#include "sinks/elasticsearch/elasticsearch_sink.h"

namespace sluice::testing {

struct SinkHarness {
  TempDir dir;
  MetricsRegistry metrics;
  FieldRegistry fields;
  std::unique_ptr<DeadLetterQueue> dlq;
  ComponentContext ctx;
  ConfigErrors errors;
  std::shared_ptr<const EsSinkConfig> cfg;
  std::unique_ptr<ElasticsearchSink> sink;
  std::atomic<int> released{0};
  std::atomic<int> submitted{0};

  // Parses the sink options (a YAML map); check `errors` / `cfg`.
  bool Configure(const std::string& yaml) {
    DeadLetterOptions o;
    o.dir = dir.path() + "/dlq";
    dlq = std::make_unique<DeadLetterQueue>(o, &metrics);
    (void)dlq->Open();
    ctx.metrics = &metrics;
    ctx.fields = &fields;
    ctx.dead_letters = dlq.get();
    ctx.data_dir = dir.path();
    YAML::Node n = LoadYamlString(yaml, "test.yml", &errors);
    if (!errors.empty()) return false;
    ConfigMap cm(n, "test.yml", &errors);
    cfg = ParseEsSinkConfig(cm, ctx);
    return cfg != nullptr;
  }
  bool Start(const std::string& yaml) {
    if (!Configure(yaml)) return false;
    sink = std::make_unique<ElasticsearchSink>(cfg, ctx);
    return sink->Start().ok();
  }

  // A batch of `lines`, parsed; counts its release in `released`.
  BatchPtr MakeBatch(const std::vector<std::string>& lines) {
    auto b = std::make_shared<Batch>();
    for (const auto& l : lines) b->Append(l);
    b->arena().reserve(b->arena().size() + 64);
    b->received_ms = NowMs();
    b->source = "test";
    b->peer = "127.0.0.1:1234";
    EventParser parser(fields.paths());
    parser.ParseBatch(b.get());
    b->SetOnSafe([this] { released.fetch_add(1); });
    return b;
  }
  void Submit(const std::vector<std::string>& lines) {
    submitted.fetch_add(1);
    sink->Submit(MakeBatch(lines));
  }
  bool WaitAllReleased() {
    return WaitFor([&] { return released.load() == submitted.load(); });
  }

  double Counter(const std::string& name) const { return metrics.Sum(name, {{"component", cfg->id}}); }
  double received() const { return Counter("sluice_component_received_events_total"); }
  double sent() const { return Counter("sluice_component_sent_events_total"); }
  double retried() const { return Counter("sluice_component_retried_events_total"); }
  double dead_lettered() const { return Counter("sluice_component_dead_lettered_events_total"); }
  std::vector<std::string> DlqLines() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path() + "/dlq", ec)) {
      for (auto& l : ReadLines(entry.path().string())) {
        if (!l.empty()) out.push_back(l);
      }
    }
    return out;
  }
};

// `n` events {"@timestamp":..., "message":"<prefix> i", ...extra}.
inline std::vector<std::string> Events(int n, const std::string& prefix = "m", const std::string& extra = "") {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(StrCat("{\"@timestamp\":\"2026-11-21T05:30:59.285Z\",\"message\":\"", prefix, " ", i, "\"", extra,
                         "}"));
  }
  return out;
}

}  // namespace sluice::testing
