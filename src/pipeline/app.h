#pragma once
// One running sluice: the config, its components and their lifecycle.
// `sluice run` = Load + Start + wait for a signal + Shutdown; `sluice check` = Load(check_only).

#include <memory>
#include <mutex>
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
  // For tools that feed the outputs themselves (`sluice dlq replay`): before
  // Start, drops the inputs, the rules, the admin endpoint and the persisted
  // queue; after Start, receiver() takes batches straight into the pipeline.
  void KeepOutputsOnly();
  BatchReceiver* receiver();
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
  // The running rules engine, or nullptr when the config has no `rules:`.
  // A reload replaces it: hold the pointer, do not cache the engine.
  std::shared_ptr<detectors::RuleEngine> rules() const;

  // Re-reads the rule files named by the running config's `rules.paths` (the
  // config file itself is not re-read). The new set is validated completely
  // first; if it is invalid the running set stays and the error lists every
  // `file:line: message`. Rules whose name and definition are unchanged keep
  // their state and alerts. SIGHUP and `POST /-/reload` call this.
  absl::Status ReloadRules();

 private:
  App() = default;
  AdminResponse HandleAdmin(const std::string& method, const std::string& target);
  absl::Status ReloadRulesLocked();
  void AttachLedger();

  AppOptions opts_;
  MetricsRegistry metrics_;
  FieldRegistry fields_;
  ComponentContext ctx_;
  std::unique_ptr<DeadLetterQueue> dlq_;
  std::vector<std::unique_ptr<Input>> inputs_;
  std::vector<std::unique_ptr<Sink>> sinks_;
  std::optional<AlertmanagerOptions> alertmanager_opts_;
  std::unique_ptr<AlertmanagerNotifier> alertmanager_;
  // Rules: the engine is shared with the pipeline's workers (observer 0),
  // swapped by ReloadRules under reload_mu_; rules_mu_ guards the pointer.
  std::vector<std::string> rules_paths_;
  detectors::RuleEngineOptions rules_opts_;
  mutable std::mutex rules_mu_;
  std::shared_ptr<detectors::RuleEngine> rules_;  // before pipeline_: workers observe it
  std::mutex reload_mu_;
  bool rules_stopped_ = false;  // by Shutdown (under reload_mu_): no reload starts a ticker after it
  Counter* reloads_ok_ = nullptr;
  Counter* reloads_failed_ = nullptr;
  Gauge* last_reload_ok_ = nullptr;
  // Which queue records the detectors observed (issue 6): shared with the
  // pipeline's observer and the persisted queue, so it outlives both.
  std::shared_ptr<detectors::ObserveLedger> ledger_;
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<PersistedQueue> persisted_queue_;  // after pipeline_: feeds it
  std::unique_ptr<AdminHttpServer> admin_;
  bool started_ = false;
};

}  // namespace sluice
