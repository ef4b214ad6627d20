// The rules engine's state across restarts (issue 6): snapshots of every
// detector, consistent with the persisted queue, and of the alert trackers.
//
// <data_dir>/state/detectors.bin (state_io.h framing, magic SLUDETS1):
//   u32 rules | per rule: name | type | definition hash | section(detector blob)
//   | i64 watermark | i64 stream time
//   | u64 position.below | u32 n | n x u64 position.extra
// <data_dir>/state/alerts.bin (magic SLUALRT1):
//   u32 rules | per rule: name | definition hash | section(tracker blob)
//
// Why two files: a snapshot of the detectors is taken every
// state_save_interval at a batch boundary (ObserveLedger::Quiesce) and says
// which queue records it covers; replaying the others after a crash brings
// the detectors back to where they were. The alerts are what was already
// sent: they are saved after every Tick that changed one, so that after the
// replay the same evaluation finds the alert already firing (not sent twice)
// and a firing alert is still resolved later.

#include <filesystem>

#include "common/log.h"
#include "common/strings.h"
#include "common/timeutil.h"
#include "detectors/common/state_io.h"
#include "detectors/rule_engine.h"

namespace sluice::detectors {
namespace {

constexpr std::string_view kDetectorsMagic = "SLUDETS1";
constexpr uint32_t kDetectorsVersion = 1;
constexpr std::string_view kAlertsMagic = "SLUALRT1";
constexpr uint32_t kAlertsVersion = 1;

std::string Reason(const absl::Status& s) {
  return absl::IsFailedPrecondition(s) ? "version" : "damaged";
}

// A rule's saved part: its name, type, hash and blob.
struct SavedRule {
  std::string name, type, hash;
  StateReader blob{std::string_view()};
};

}  // namespace

struct RuleEngine::StateMetrics {
  Counter* snapshots = nullptr;
  Counter* snapshot_failures = nullptr;
  Gauge* snapshot_bytes = nullptr;
  MetricsRegistry* registry = nullptr;
  Counter* Discarded(const std::string& reason) const {
    return registry->GetCounter("sluice_rules_state_discarded_total",
                                "Saved detector or alert state not restored at start (the rule starts fresh).",
                                {{"reason", reason}});
  }
};

void RuleEngine::InitState(ComponentContext& ctx) {
  state_dir_ = StrCat(ctx.data_dir, "/state");
  auto m = std::make_shared<StateMetrics>();
  m->registry = ctx.metrics;
  m->snapshots = ctx.metrics->GetCounter("sluice_rules_state_snapshots_total",
                                         "Snapshots of the detectors' state written.");
  m->snapshot_failures = ctx.metrics->GetCounter("sluice_rules_state_snapshot_failures_total",
                                                 "Snapshots of the detectors' or alerts' state that failed.");
  m->snapshot_bytes = ctx.metrics->GetGauge("sluice_rules_state_snapshot_bytes",
                                            "Size of the last snapshot of the detectors' state.");
  state_metrics_ = std::move(m);
  if (!opts_.restore_state) return;
  RestoreDetectors();
  RestoreAlerts();
}

absl::Status RuleEngine::SaveState() {
  if (state_dir_.empty() || !saving_) return absl::OkStatus();
  std::lock_guard<std::mutex> l(save_mu_);
  StateWriter w;
  auto serialize = [&] {
    w.U32(static_cast<uint32_t>(rules_.size()));
    for (Rule& r : rules_) {
      w.Str(r.spec->name);
      w.Str(r.spec->type);
      w.Str(r.spec->hash);
      const size_t mark = w.Begin();
      r.detector->SaveState(w);
      w.End(mark);
    }
    w.I64(watermark_.load(std::memory_order_relaxed));
    w.I64(stream_now_.load(std::memory_order_relaxed));
  };
  QueuePosition pos;
  if (ledger_) {
    pos = ledger_->Quiesce(serialize);
  } else {
    serialize();
  }
  w.U64(pos.below);
  w.U32(static_cast<uint32_t>(pos.extra.size()));
  for (uint64_t s : pos.extra) w.U64(s);
  absl::Status st = WriteStateFile(StrCat(state_dir_, "/detectors.bin"), kDetectorsMagic, kDetectorsVersion, w.buffer());
  if (st.ok()) {
    state_metrics_->snapshots->Inc();
    state_metrics_->snapshot_bytes->Set(static_cast<int64_t>(w.size()));
    if (ledger_) ledger_->SnapshotWritten(pos);
  } else {
    state_metrics_->snapshot_failures->Inc();
    SLUICE_LOG_WARN("rules", "cannot save the detectors' state: ", MessageOf(st.message()));
  }
  absl::Status as = SaveAlerts();
  return st.ok() ? as : st;
}

absl::Status RuleEngine::SaveAlerts() {
  if (state_dir_.empty() || !saving_) return absl::OkStatus();
  StateWriter w;
  uint64_t changes = 0;
  {
    std::lock_guard<std::mutex> al(alerts_mu_);
    w.U32(static_cast<uint32_t>(rules_.size()));
    for (const Rule& r : rules_) {
      w.Str(r.spec->name);
      w.Str(r.spec->hash);
      const size_t mark = w.Begin();
      r.tracker->SaveState(w);
      w.End(mark);
      changes += r.tracker->changes();
    }
  }
  absl::Status st = WriteStateFile(StrCat(state_dir_, "/alerts.bin"), kAlertsMagic, kAlertsVersion, w.buffer());
  if (st.ok()) {
    saved_alert_changes_ = changes;
  } else {
    state_metrics_->snapshot_failures->Inc();
    SLUICE_LOG_WARN("rules", "cannot save the alerts' state: ", MessageOf(st.message()));
  }
  return st;
}

void RuleEngine::AfterTick(int64_t now_ms) {
  if (!orphaned_alerts_.empty()) {
    // Firing before the restart, but their rule changed or is gone: resolved,
    // as a reload does.
    std::lock_guard<std::mutex> al(alerts_mu_);
    for (Alert& a : orphaned_alerts_) {
      a.state = AlertState::kResolved;
      a.ends_at_ms = stream_now_.load(std::memory_order_relaxed);
      fanout_.Emit(a);
    }
    orphaned_alerts_.clear();
  }
  if (state_dir_.empty() || !saving_) return;
  if (ledger_ && ledger_->TakeSnapshotRequest() && last_save_ms_ != 0) {
    // The persisted queue is full of delivered records kept for this snapshot.
    (void)SaveState();
    last_save_ms_ = now_ms;
    return;
  }
  if (now_ms - last_save_ms_ >= opts_.state_save_interval_ms) {
    if (last_save_ms_ != 0) {
      (void)SaveState();  // the first Tick only starts the clock
      last_save_ms_ = now_ms;
      return;
    }
    last_save_ms_ = now_ms;
  }
  uint64_t changes = 0;
  {
    std::lock_guard<std::mutex> al(alerts_mu_);
    for (const Rule& r : rules_) changes += r.tracker->changes();
  }
  if (changes != saved_alert_changes_) (void)SaveAlerts();
}

void RuleEngine::RestoreDetectors() {
  const std::string path = StrCat(state_dir_, "/detectors.bin");
  absl::StatusOr<std::string> body = ReadStateFile(path, kDetectorsMagic, kDetectorsVersion);
  if (absl::IsNotFound(body.status())) {
    // State files of earlier versions: flow-<rule>.bin (flow's blob, alone).
    for (Rule& r : rules_) {
      if (r.spec->type != "flow") continue;
      std::string name = r.spec->name;
      for (char& c : name) {
        if (c == '/' || c == '\\' || c == '\0') c = '_';
      }
      const std::string legacy = StrCat(state_dir_, "/flow-", name, ".bin");
      if (!std::filesystem::exists(legacy)) continue;
      std::string data;
      if (FILE* f = std::fopen(legacy.c_str(), "rb")) {
        char chunk[1 << 16];
        size_t got;
        while ((got = std::fread(chunk, 1, sizeof chunk, f)) > 0) data.append(chunk, got);
        std::fclose(f);
      }
      StateReader blob(data);
      if (!r.detector->LoadState(blob)) {
        state_metrics_->Discarded("damaged")->Inc();
        SLUICE_LOG_WARN("rules", "rule ", r.spec->name, ": ignoring saved state ", legacy, ": damaged");
      }
    }
    return;
  }
  if (!body.ok()) {
    state_metrics_->Discarded(Reason(body.status()))->Inc(rules_.size());
    SLUICE_LOG_WARN("rules", "ignoring the saved detector state (every rule starts fresh): ",
                    MessageOf(body.status().message()));
    return;
  }
  // Everything is read before anything is applied: a file that does not parse
  // restores nothing, so the queue position never describes a state not loaded.
  StateReader r(*body);
  uint32_t n;
  std::vector<SavedRule> saved;
  bool ok = r.U32(&n) && n <= r.left() / 32;
  for (uint32_t i = 0; ok && i < n; ++i) {
    SavedRule s;
    ok = r.Str(&s.name) && r.Str(&s.type) && r.Str(&s.hash) && r.Section(&s.blob);
    saved.push_back(std::move(s));
  }
  int64_t watermark = INT64_MIN, stream_now = 0;
  QueuePosition pos;
  uint32_t extra = 0;
  ok = ok && r.I64(&watermark) && r.I64(&stream_now) && r.U64(&pos.below) && r.U32(&extra) && extra <= r.left() / 8;
  for (uint32_t i = 0; ok && i < extra; ++i) {
    uint64_t s = 0;
    ok = r.U64(&s);
    pos.extra.push_back(s);
  }
  if (!ok || !r.done()) {
    state_metrics_->Discarded("damaged")->Inc(rules_.size());
    SLUICE_LOG_WARN("rules", "ignoring the saved detector state (every rule starts fresh): ", path,
                    ": does not parse");
    return;
  }
  size_t restored = 0, fresh = 0;
  for (Rule& rule : rules_) {
    const SavedRule* s = nullptr;
    for (const SavedRule& c : saved) {
      if (c.name == rule.spec->name) s = &c;
    }
    if (!s) {
      ++fresh;
      continue;
    }
    if (s->type != rule.spec->type || (s->hash != rule.spec->hash && !rule.detector->state_survives_edits())) {
      ++fresh;
      state_metrics_->Discarded("changed")->Inc();
      SLUICE_LOG_INFO("rules", "rule ", rule.spec->name, " changed since its state was saved: it starts fresh");
      continue;
    }
    StateReader blob = s->blob;
    if (!rule.detector->LoadState(blob)) {
      ++fresh;
      state_metrics_->Discarded("damaged")->Inc();
      SLUICE_LOG_WARN("rules", "rule ", rule.spec->name, ": saved state does not load (another layout?): it starts fresh");
      continue;
    }
    ++restored;
  }
  restored_position_ = std::move(pos);
  if (watermark != INT64_MIN) {
    // Stream time goes on from the snapshot's (the first Tick starts from
    // it), not from the wall clock: the time sluice was down does not close
    // windows before the replay reaches them.
    watermark_.store(std::max(watermark, stream_now));
  }
  SLUICE_LOG_INFO("rules", "restored the state of ", restored, " rules from ", path, " (", fresh,
                  " start fresh); it covers the queue records below ", restored_position_.below);
}

void RuleEngine::RestoreAlerts() {
  const std::string path = StrCat(state_dir_, "/alerts.bin");
  absl::StatusOr<std::string> body = ReadStateFile(path, kAlertsMagic, kAlertsVersion);
  if (absl::IsNotFound(body.status())) return;
  if (!body.ok()) {
    state_metrics_->Discarded(StrCat("alerts_", Reason(body.status())))->Inc();
    SLUICE_LOG_WARN("rules", "ignoring the saved alerts: ", MessageOf(body.status().message()));
    return;
  }
  StateReader r(*body);
  uint32_t n;
  bool ok = r.U32(&n);
  size_t firing = 0;
  for (uint32_t i = 0; ok && i < n; ++i) {
    std::string name, hash;
    StateReader blob{std::string_view()};
    ok = r.Str(&name) && r.Str(&hash) && r.Section(&blob);
    if (!ok) break;
    Rule* rule = nullptr;
    for (Rule& c : rules_) {
      if (c.spec->name == name && c.spec->hash == hash) rule = &c;
    }
    if (rule) {
      std::lock_guard<std::mutex> al(alerts_mu_);
      if (!rule->tracker->LoadState(blob)) {
        state_metrics_->Discarded("alerts_damaged")->Inc();
        SLUICE_LOG_WARN("rules", "rule ", name, ": saved alerts do not load");
        continue;
      }
      firing += rule->tracker->firing();
      continue;
    }
    // The rule changed or is gone: its firing alerts are resolved at the first Tick.
    RuleSpec old;
    old.name = name;
    old.hash = hash;
    AlertTracker t(&old);
    if (!t.LoadState(blob)) continue;
    std::vector<Alert> alerts;
    t.Snapshot(&alerts);
    for (Alert& a : alerts) {
      if (a.state == AlertState::kFiring) orphaned_alerts_.push_back(std::move(a));
    }
  }
  if (!ok) {
    state_metrics_->Discarded("alerts_damaged")->Inc();
    SLUICE_LOG_WARN("rules", "saved alerts ", path, " do not parse completely");
  }
  for (Rule& rule : rules_) {
    rule.firing->Set(static_cast<int64_t>(rule.tracker->firing()));
    rule.pending->Set(static_cast<int64_t>(rule.tracker->pending()));
  }
  if (firing || !orphaned_alerts_.empty()) {
    SLUICE_LOG_INFO("rules", "restored ", firing, " firing alerts from ", path, " (", orphaned_alerts_.size(),
                    " of changed or removed rules to resolve)");
  }
}

}  // namespace sluice::detectors
