#include "pipeline/app.h"

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/strings.h"

#include "common/log.h"
#include "common/timeutil.h"
#include "detectors/common/alert_sinks.h"
#include "sinks/alertmanager/alertmanager_alert_sink.h"

namespace sluice {

const char kEmbeddedDefaultConfig[] = R"(# sluice embedded default: no Elasticsearch needed.
data_dir: ./data
http:
  listen: 127.0.0.1:9600
inputs:
  - type: beats
    listen: 127.0.0.1:5044
  - type: syslog
    protocol: tcp
    listen: 127.0.0.1:5514
outputs:
  - type: file
    path: ./data/out/events.ndjson
)";

absl::StatusOr<std::unique_ptr<App>> App::LoadFile(const std::string& path, bool check_only) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(StrCat(path, ":1: cannot open config file"));
  std::stringstream ss;
  ss << in.rdbuf();
  return Load(ss.str(), path, check_only);
}

absl::StatusOr<std::unique_ptr<App>> App::Load(const std::string& yaml_text, const std::string& file_name,
                                               bool check_only) {
  std::unique_ptr<App> app(new App());
  ConfigErrors errors;
  for (const auto& d : ComponentRegistry::Get().duplicates()) {
    errors.AddPlain(StrCat("internal: two components register the type name \"", d, "\""));
  }
  YAML::Node root = LoadYamlString(yaml_text, file_name, &errors);
  if (!errors.empty()) return errors.ToStatus();
  ConfigMap top(root, file_name, &errors);
  AppOptions& o = app->opts_;
  o.data_dir = top.String("data_dir", o.data_dir);
  o.log_level = top.Enum("log_level", o.log_level, {"debug", "info", "warn", "error"});
  o.shutdown_timeout_ms = top.DurationMs("shutdown_timeout", o.shutdown_timeout_ms);
  if (auto http = top.Map("http")) {
    o.http_listen = http->String("listen", o.http_listen);
    http->Finish();
  }
  if (auto p = top.Map("pipeline")) {
    o.pipeline.workers = static_cast<int>(p->Int("workers", 0, 0, 256));
    if (auto q = p->Map("queue")) {
      if (q->Enum("type", "memory", {"memory", "persisted"}) == "persisted") {
        o.persisted_queue = ReadPersistedQueueOptions(*q, o.data_dir, &o.pipeline.queue_max_bytes);
      } else {
        o.pipeline.queue_max_bytes = q->Bytes("max_bytes", o.pipeline.queue_max_bytes, 1 << 20);
      }
      q->Finish();
    }
    p->Finish();
  }
  o.dead_letter.dir = o.data_dir + "/dlq";
  if (auto d = top.Map("dead_letter")) {
    o.dead_letter.max_file_bytes = d->Bytes("max_file_bytes", o.dead_letter.max_file_bytes, 4096);
    o.dead_letter.max_total_bytes = d->Bytes("max_bytes", o.dead_letter.max_total_bytes, 4096);
    d->Finish();
  }
  if (auto al = top.Map("alerting")) {
    o.alerts_index = al->String("index", o.alerts_index);
    if (auto am = al->Map("alertmanager")) app->alertmanager_opts_ = ReadAlertmanagerOptions(*am);
    al->Finish();
  }

  app->dlq_ = std::make_unique<DeadLetterQueue>(o.dead_letter, &app->metrics_);
  app->ctx_.metrics = &app->metrics_;
  app->ctx_.fields = &app->fields_;
  app->ctx_.dead_letters = app->dlq_.get();
  app->ctx_.data_dir = o.data_dir;
  app->ctx_.check_only = check_only;
  app->ctx_.persisted_queue = o.persisted_queue.has_value();

  // Rules: loaded before the pipeline exists, so the fields they read are registered.
  if (auto r = top.Map("rules")) {
    app->rules_opts_ = detectors::ReadRuleEngineOptions(*r, file_name, &app->rules_paths_);
    app->rules_ = std::make_shared<detectors::RuleEngine>(app->rules_opts_);
    (void)app->rules_->Load(app->rules_paths_, app->ctx_, &errors);
    app->reloads_ok_ = app->metrics_.GetCounter("sluice_rules_reload_total", "Rule reloads (SIGHUP, POST /-/reload).",
                                                {{"result", "success"}});
    app->reloads_failed_ = app->metrics_.GetCounter("sluice_rules_reload_total",
                                                    "Rule reloads (SIGHUP, POST /-/reload).", {{"result", "failure"}});
    app->last_reload_ok_ = app->metrics_.GetGauge(
        "sluice_rules_last_reload_success", "1 if the last rule reload (or the initial load) succeeded.");
    app->last_reload_ok_->Set(1);
  }

  const auto& reg = ComponentRegistry::Get();
  for (ConfigMap& c : top.MapList("inputs")) {
    std::string type = c.RequiredString("type");
    if (type.empty()) continue;
    const InputFactory* f = reg.FindInput(type);
    if (!f) {
      c.Error("type", StrCat("unknown input type \"", type, "\" (known: ", StrJoin(reg.InputNames(), ", "), ")"));
      continue;
    }
    if (auto in = (*f)(c, app->ctx_)) app->inputs_.push_back(std::move(in));
  }
  std::vector<ConfigMap> outs = top.MapList("outputs");
  if (outs.empty() && errors.empty()) {
    errors.Add(file_name, root.Mark(), "outputs: at least one output is required (for example `- type: file`)");
  }
  for (ConfigMap& c : outs) {
    std::string type = c.RequiredString("type");
    if (type.empty()) continue;
    const SinkFactory* f = reg.FindSink(type);
    if (!f) {
      c.Error("type", StrCat("unknown output type \"", type, "\" (known: ", StrJoin(reg.SinkNames(), ", "), ")"));
      continue;
    }
    if (auto s = (*f)(c, app->ctx_)) app->sinks_.push_back(std::move(s));
  }
  top.Finish();
  if (!errors.empty()) return errors.ToStatus();
  if (o.log_level == "debug") SetLogLevel(LogLevel::kDebug);
  else if (o.log_level == "warn") SetLogLevel(LogLevel::kWarn);
  else if (o.log_level == "error") SetLogLevel(LogLevel::kError);
  return app;
}

App::~App() {
  if (started_) Shutdown();
  // The engine may outlive the persisted queue its snapshots notify (it is
  // freed after it): its last snapshot was written by Shutdown.
  if (auto r = rules()) r->StopSaving();
}

absl::Status App::Start() {
  if (auto s = dlq_->Open(); !s.ok()) return s;
  for (auto& s : sinks_) {
    if (auto st = s->Start(); !st.ok()) return st;
  }
  std::vector<Sink*> sinks;
  for (auto& s : sinks_) sinks.push_back(s.get());
  std::vector<BatchObserver*> observers;
  if (rules_) observers.push_back(rules_.get());
  pipeline_ = std::make_unique<Pipeline>(opts_.pipeline, &ctx_, std::move(sinks), std::move(observers));
  if (opts_.persisted_queue) {
    PersistedQueueOptions qo = *opts_.persisted_queue;
    // Delivered records the detectors' snapshot does not cover stay in the log.
    if (rules_) qo.detectors_from = rules_->restored_position().below;
    auto q = PersistedQueue::Open(qo, &metrics_);
    if (!q.ok()) return q.status();
    persisted_queue_ = std::move(*q);
  }
  std::lock_guard<std::mutex> reload_lock(reload_mu_);
  if (rules_) {
    AttachLedger();
    // Alerts go to the log, <data_dir>/alerts/alerts.ndjson, the outputs (as
    // documents in the alerts index, through the persisted queue when there
    // is one) and, when configured, Alertmanager.
    if (auto st = rules_->AddDefaultSinks(opts_.data_dir); !st.ok()) return st;
    BatchReceiver* alert_docs = persisted_queue_ ? static_cast<BatchReceiver*>(persisted_queue_.get()) : pipeline_.get();
    rules_->AddSink(std::make_unique<detectors::AlertDocumentSink>(opts_.alerts_index, alert_docs, &metrics_));
    if (alertmanager_opts_) {
      alertmanager_ = std::make_unique<AlertmanagerNotifier>(*alertmanager_opts_, &metrics_);
      if (auto st = alertmanager_->Start(); !st.ok()) return st;
      auto am = std::make_unique<AlertmanagerAlertSink>(alertmanager_.get());
      // Alerts firing before a restart are sent again at once, so
      // Alertmanager sees no gap (and gets their resolve later).
      for (const detectors::Alert& a : rules_->ActiveAlerts()) {
        if (a.state == detectors::AlertState::kFiring) am->Emit(a);
      }
      rules_->AddSink(std::move(am));
    }
    rules_->StartTicking();
    SLUICE_LOG_INFO("app", rules_->rule_count(), " rules loaded from ", rules_->files().size(), " files");
  }
  pipeline_->Start();
  started_ = true;
  BatchReceiver* receiver = pipeline_.get();
  if (persisted_queue_) {
    persisted_queue_->Start(pipeline_.get());
    receiver = persisted_queue_.get();
  }
  for (auto& in : inputs_) {
    if (auto st = in->Start(receiver); !st.ok()) return st;
    SLUICE_LOG_INFO("app", "input ", in->name(), " listening on ", in->bound_address());
  }
  if (!opts_.http_listen.empty()) {
    admin_ = std::make_unique<AdminHttpServer>(
        opts_.http_listen,
        [this](const std::string& m, const std::string& t, const std::string&) { return HandleAdmin(m, t); });
    if (auto st = admin_->Start(); !st.ok()) return st;
    SLUICE_LOG_INFO("app", "metrics on http://", admin_->bound_address(), "/metrics");
  }
  return absl::OkStatus();
}

void App::AttachLedger() {
  ledger_ = std::make_shared<detectors::ObserveLedger>(&fields_, &metrics_);
  rules_->SetLedger(ledger_);
  auto observer = std::make_shared<detectors::CheckpointedObserver>(rules_, ledger_);
  ledger_->SetObserver(observer);
  pipeline_->SetObserver(0, observer);  // shared: a reload may drop the App's reference
  if (!persisted_queue_) return;
  detectors::QueuePosition covered = rules_->restored_position();
  const uint64_t last = persisted_queue_->last_seq_at_open();
  if (covered.below > last + 1) {
    // The snapshot is of another log (the queue directory was replaced).
    SLUICE_LOG_WARN("app", "the detectors' snapshot covers queue records up to ", covered.below - 1,
                    " but the queue ends at ", last, ": replaying every record to the detectors");
    covered = {};
  }
  // Rules are evaluated once the detectors observed the log's records (the
  // state before the restart), at most this long after start.
  constexpr int64_t kReplayHoldMs = 30'000;
  ledger_->Resume(std::move(covered), last, NowMs() + kReplayHoldMs);
  ledger_->SetOnSnapshot([q = persisted_queue_.get()](uint64_t below) { q->RetainFrom(below); });
  persisted_queue_->SetObserverLink(ledger_.get());
}

void App::KeepOutputsOnly() {
  inputs_.clear();
  rules_.reset();
  alertmanager_opts_.reset();
  opts_.http_listen.clear();
  opts_.persisted_queue.reset();
}

BatchReceiver* App::receiver() { return pipeline_.get(); }

void App::Shutdown() {
  if (!started_) return;
  started_ = false;
  const int64_t deadline = NowMs() + opts_.shutdown_timeout_ms;
  SLUICE_LOG_INFO("app", "shutting down: finishing in-flight events (up to ", opts_.shutdown_timeout_ms, " ms)");
  for (auto& in : inputs_) in->StopAccepting();
  // Batches an input read but the queue has not taken yet (backpressure) go
  // in before the pipeline drains: the detectors have counted them already,
  // so they must be delivered and ACKed, not sent again after the restart.
  auto held = [&] {
    size_t n = 0;
    for (auto& in : inputs_) n += in->held_batches();
    return n;
  };
  while (held() > 0 && NowMs() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  if (size_t n = held()) SLUICE_LOG_WARN("app", n, " batches read were not taken by the pipeline before the shutdown deadline");
  if (persisted_queue_) persisted_queue_->StopAccepting(deadline);  // what it took is on disk and ACKed
  if (pipeline_) pipeline_->Drain(deadline);
  {
    std::lock_guard<std::mutex> l(reload_mu_);
    rules_stopped_ = true;
    if (auto r = rules()) r->StopTicking();
  }
  if (alertmanager_) alertmanager_->Stop();
  for (auto& s : sinks_) s->Stop(deadline);
  if (persisted_queue_) persisted_queue_->Close();  // commits what the sinks delivered
  for (auto& in : inputs_) in->Stop();
  if (admin_) admin_->Stop();
  (void)dlq_->Flush();
  SLUICE_LOG_INFO("app", "stopped");
}

std::shared_ptr<detectors::RuleEngine> App::rules() const {
  std::lock_guard<std::mutex> l(rules_mu_);
  return rules_;
}

absl::Status App::ReloadRules() {
  std::lock_guard<std::mutex> l(reload_mu_);
  absl::Status st = ReloadRulesLocked();
  if (reloads_ok_) {
    (st.ok() ? reloads_ok_ : reloads_failed_)->Inc();
    last_reload_ok_->Set(st.ok() ? 1 : 0);
  }
  if (!st.ok()) SLUICE_LOG_ERROR("rules", "reload failed, the running rules stay:\n", MessageOf(st.message()));
  return st;
}

absl::Status App::ReloadRulesLocked() {
  std::shared_ptr<detectors::RuleEngine> current = rules();
  if (!current) {
    return absl::FailedPreconditionError(
        "no `rules:` section in the config; the config file itself is not reloaded (restart sluice to add one)");
  }
  if (rules_stopped_) return absl::FailedPreconditionError("sluice is shutting down");
  // Validate the whole set against scratch registries first, so that a broken
  // set leaves no trace: no field extracted for nothing, no metric series.
  {
    FieldRegistry scratch_fields(fields_);
    MetricsRegistry scratch_metrics;
    ComponentContext scratch = ctx_;
    scratch.data_dir.clear();  // the probe neither restores nor saves state
    scratch.fields = &scratch_fields;
    scratch.metrics = &scratch_metrics;
    detectors::RuleEngine probe(rules_opts_);
    ConfigErrors errors;
    if (!probe.Load(rules_paths_, scratch, &errors).ok()) return absl::InvalidArgumentError(errors.ToString());
  }
  // The real load registers the new rules' fields: workers extract them from
  // their next batch on, before they can see the new engine (SetObserver).
  detectors::RuleEngineOptions next_opts = rules_opts_;
  next_opts.restore_state = false;  // the kept rules bring their state; the others start fresh
  auto next = std::make_shared<detectors::RuleEngine>(next_opts);
  ConfigErrors errors;
  if (!next->Load(rules_paths_, ctx_, &errors).ok()) return absl::InvalidArgumentError(errors.ToString());
  const bool ticking = pipeline_ != nullptr;
  if (ticking) current->StopTicking();
  const auto sum = next->TakeOver(*current);
  if (ledger_) {
    // The old engine's last snapshot was written by StopTicking; from now on
    // the next one writes them (the old one may be freed much later).
    current->StopSaving();
    next->SetLedger(ledger_);
    auto observer = std::make_shared<detectors::CheckpointedObserver>(next, ledger_);
    ledger_->SetObserver(observer);
    pipeline_->SetObserver(0, observer);
  } else if (pipeline_) {
    pipeline_->SetObserver(0, next);
  }
  next->MergeWatermark(*current);  // what the old engine saw while workers switched
  {
    std::lock_guard<std::mutex> l(rules_mu_);
    rules_ = next;
  }
  if (ticking) next->StartTicking();
  SLUICE_LOG_INFO("rules", "reloaded ", next->rule_count(), " rules from ", next->files().size(), " files: ", sum.kept,
                  " kept with their state, ", sum.added, " added, ", sum.changed, " changed, ", sum.removed,
                  " removed (", sum.resolved_alerts, " alerts resolved)");
  return absl::OkStatus();
}

AdminResponse App::HandleAdmin(const std::string& method, const std::string& target) {
  AdminResponse r;
  std::string path = target.substr(0, target.find('?'));
  if (path == "/-/reload") {
    if (method != "POST") {
      r.status = 405;
      r.body = "use POST\n";
      return r;
    }
    absl::Status st = ReloadRules();
    if (st.ok()) {
      auto rules = this->rules();
      r.body = StrCat("rules reloaded: ", rules->rule_count(), " rules from ", rules->files().size(), " files\n");
    } else {
      r.status = 400;
      r.body = StrCat(MessageOf(st.message()), "\n");
    }
    return r;
  }
  if (path == "/metrics") {
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics_.RenderPrometheus();
  } else if (path == "/healthz") {
    r.body = "ok\n";
  } else {
    r.status = 404;
    r.body = "not found\n";
  }
  return r;
}

}  // namespace sluice
