#pragma once
// One running sluice: the config, its components and their lifecycle.
// `sluice run` = Load + Start + wait for a signal + Shutdown; `sluice check` = Load(check_only).

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/metrics.h"
#include "detectors/rule_engine.h"
#include "pipeline/admin_http.h"
#include "pipeline/component.h"
#include "pipeline/dead_letter.h"
#include "pipeline/persisted_queue.h"
#include "pipeline/pipeline.h"
#include "sinks/alertmanager/alertmanager.h"

#include <optional>

namespace sluice {

// The config used when `sluice run` gets no --config: Beats on 127.0.0.1:5044,
// syslog over TCP on 127.0.0.1:5514, events to NDJSON files under ./data.
extern const char kEmbeddedDefaultConfig[];

struct AppOptions {
  std::string data_dir = "./data";
  std::string http_listen = "127.0.0.1:9600";  // "" disables it
  std::string log_level = "info";
  int64_t shutdown_timeout_ms = 30'000;
  PipelineOptions pipeline;
  std::optional<PersistedQueueOptions> persisted_queue;  // pipeline.queue.type: persisted
  DeadLetterOptions dead_letter;
  std::string alerts_index = "sluice-alerts";  // alert documents go through the outputs with this index
};

class App {
 public:
  // Parses and validates the config (file name used in messages) and builds
  // every component. All problems are reported together, as `file:line: problem`.
  static absl::StatusOr<std::unique_ptr<App>> Load(const std::string& yaml_text, const std::string& file_name,
                                                    bool check_only);
  static absl::StatusOr<std::unique_ptr<App>> LoadFile(const std::string& path, bool check_only);
  ~App();

  absl::Status Start();
  // Graceful stop: stop accepting, deliver what is in flight within the
  // shutdown timeout, ACK it, close.
  void Shutdown();

  const AppOptions& options() const { return opts_; }
  MetricsRegistry* metrics() { return &metrics_; }
  const std::vector<std::unique_ptr<Input>>& inputs() const { return inputs_; }
  const std::vector<std::unique_ptr<Sink>>& sinks() const { return sinks_; }
  std::string admin_address() const { return admin_ ? admin_->bound_address() : ""; }
  DeadLetterQueue* dead_letters() { return dlq_.get(); }
  // The persisted queue, or nullptr with the memory queue.
  PersistedQueue* persisted_queue() { return persisted_queue_.get(); }
  // The rules engine, or nullptr when the config has no `rules:`.
  detectors::RuleEngine* rules() { return rules_.get(); }

 private:
  App() = default;
  AdminResponse HandleAdmin(const std::string& method, const std::string& target);

  AppOptions opts_;
  MetricsRegistry metrics_;
  FieldRegistry fields_;
  ComponentContext ctx_;
  std::unique_ptr<DeadLetterQueue> dlq_;
  std::vector<std::unique_ptr<Input>> inputs_;
  std::vector<std::unique_ptr<Sink>> sinks_;
  std::optional<AlertmanagerOptions> alertmanager_opts_;
  std::unique_ptr<AlertmanagerNotifier> alertmanager_;
  std::unique_ptr<detectors::RuleEngine> rules_;  // before pipeline_: workers observe it
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<PersistedQueue> persisted_queue_;  // after pipeline_: feeds it
  std::unique_ptr<AdminHttpServer> admin_;
  bool started_ = false;
};

}  // namespace sluice
