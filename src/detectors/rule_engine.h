#pragma once
// The rules engine: loads rule files, feeds every parsed batch to the rules'
// detectors (a BatchObserver on the pipeline workers), evaluates them on a
// clock (Tick) and sends alert state changes to its AlertSinks.
//
// Time: windows follow event time (Event::timestamp_ms). The engine's stream
// time is the newest event time seen (the watermark), advanced by the wall
// clock while no newer event arrives, so a stream that stops still closes its
// windows and a silent component is noticed. A rule is evaluated at stream
// time minus the allowed lateness, so events up to that late still count.
//
// Lifecycle: Load (it registers the fields the rules read), then Observe from
// any number of workers and Tick from one thread (StartTicking runs it on a
// timer).
//
// Reload: a new engine is loaded beside the running one, then TakeOver moves
// the running engine's alert sinks, stream clock and the state of every rule
// whose name and definition are unchanged into it, before the pipeline is
// pointed at it (Pipeline::SetObserver). Kept rules share their detector,
// alert tracker and samples between the two engines, so events the old engine
// still sees while workers switch over are not lost, and firing alerts stay
// firing without being sent again.

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/config_reader.h"
#include "common/metrics.h"
#include "detectors/common/alert.h"
#include "detectors/common/alert_sinks.h"
#include "detectors/common/alert_tracker.h"
#include "detectors/checkpoint.h"
#include "detectors/common/detector.h"
#include "pipeline/component.h"

namespace sluice::detectors {

struct RuleEngineOptions {
  std::string base_dir = ".";               // rule paths are relative to this (the config file's directory)
  int64_t evaluation_interval_ms = 1000;    // how often StartTicking calls Tick
  int64_t allowed_lateness_ms = 10'000;     // events up to this late still count in their window
  size_t max_groups_per_rule = 100'000;     // groups (or fingerprints) tracked per rule; oldest evicted
  size_t sample_bytes = 512;                // raw events in alerts are cut to this
  int64_t state_save_interval_ms = 10'000;  // detector state snapshot interval (Tick)
  bool restore_state = true;                // Load restores the saved state (not on a reload)
  bool merge_updates = true;                // runs of one group's updates merged (off: tests compare)
  bool engine_selectors = true;             // Detector::selectors() evaluated by the engine (off: tests compare)
  bool shared_group_hashes = true;          // each distinct group_by list hashed once per event (off: per update; tests compare)
  bool chunk_runs = true;                   // counting and max rules' matches gathered per group and chunk (off: per match; tests compare)
  bool hash_memo = true;                    // group fields' hashes remembered by value (off: hashed every time; tests compare)
  bool simd = true;                         // AVX2 code where compiled in (off: the portable code; tests compare)
  bool hash_lanes = true;                   // with simd, fingerprint keys 4 at a time where the CPU has AVX-512 DQ+VL (off: tests compare)
  bool match_loops = true;                  // unmerged rules' updates by a loop made for their kind (off: the generic loop; tests compare)
  bool value_columns = true;                // a `field:` rule's values parsed with the conditions' numeric columns (off: FieldNumber per match; tests compare)
};

// Reads the `rules:` section of the config (paths, evaluation_interval,
// allowed_lateness, max_groups_per_rule) and calls Finish() on it.
RuleEngineOptions ReadRuleEngineOptions(ConfigMap& cfg, const std::string& config_file,
                                        std::vector<std::string>* paths);

class RuleEngine : public BatchObserver {
 public:
  explicit RuleEngine(RuleEngineOptions opts = {});
  ~RuleEngine() override;

  // Loads and validates every rule file matching `paths` (globs, relative to
  // base_dir), compiles the conditions and registers the fields they read with
  // ctx.fields. Errors are `file:line: message`, appended to *errors; returns
  // InvalidArgument if there were any. Call once, before the pipeline starts.
  absl::Status Load(const std::vector<std::string>& paths, ComponentContext& ctx, ConfigErrors* errors);

  // Takes over from `old` (which no longer ticks; workers may still call its
  // Observe): its alert sinks (replacing any added to this engine), its stream
  // clock, and the detector, alert tracker and samples of every rule with the
  // same name and definition hash. Firing alerts of old rules not taken over
  // (removed or changed) are resolved through the sinks.
  struct TakeOverSummary {
    size_t kept = 0, added = 0, changed = 0, removed = 0, resolved_alerts = 0;
  };
  TakeOverSummary TakeOver(RuleEngine& old);
  // Raises the watermark to `old`'s (after the pipeline switched over, for
  // the events the old engine saw meanwhile).
  void MergeWatermark(const RuleEngine& old);

  // Alert sinks get every state change (pending, firing, resolved) from Tick's thread.
  void AddSink(std::unique_ptr<AlertSink> sink);
  void AddSink(AlertSink* sink);  // not owned
  // Log + `<data_dir>/alerts/alerts.ndjson`.
  absl::Status AddDefaultSinks(const std::string& data_dir);

  void Observe(const Batch& batch) override;
  // Evaluates every rule at wall-clock time `now_ms` (an injected clock in tests).
  void Tick(int64_t now_ms);
  // Runs Tick(NowMs()) every evaluation interval on a thread until StopTicking.
  void StartTicking();
  // Stops the ticker and saves the state.
  void StopTicking();

  // State across restarts (issue 6, rule_engine_state.cc). Snapshots of every
  // detector (<data_dir>/state/detectors.bin, with the queue position it
  // covers and the stream clock) are taken every state_save_interval by Tick
  // and by StopTicking; the alerts (<data_dir>/state/alerts.bin) also after
  // every Tick that changed one. Load restores both: a rule whose definition
  // changed starts fresh (flow maps its stages by name), as does every rule
  // when a file is damaged or of another version (logged and counted).
  // SaveState: call with no Tick running. A no-op without a data_dir, for
  // `sluice check`, or after StopSaving.
  absl::Status SaveState();
  absl::Status SaveAlerts();
  // With the ledger, snapshots wait for a batch boundary and record which
  // queue records they cover, and evaluations wait for the replay at start.
  void SetLedger(std::shared_ptr<ObserveLedger> ledger) { ledger_ = std::move(ledger); }
  // An engine replaced by a reload stops writing the state files.
  void StopSaving() { saving_ = false; }
  // The queue records covered by the snapshot Load restored.
  const QueuePosition& restored_position() const { return restored_position_; }

  // Pending and firing alerts now (for Alertmanager re-sends and the admin API).
  std::vector<Alert> ActiveAlerts() const;
  size_t rule_count() const { return rules_.size(); }
  const std::vector<std::string>& files() const { return files_; }
  const RuleEngineOptions& options() const { return opts_; }
  // The stream time of the last Tick.
  int64_t stream_time_ms() const { return stream_now_; }

  // Test access: the detector of rule `name` (nullptr if none).
  Detector* detector(std::string_view name) const;

 private:
  class SampleStore;
  // The state parts are shared so that a reload can hand them to the next engine.
  struct Rule {
    std::shared_ptr<RuleSpec> spec;
    std::shared_ptr<Detector> detector;
    std::shared_ptr<AlertTracker> tracker;
    std::shared_ptr<SampleStore> samples;
    Counter* matched = nullptr;
    Counter* evictions = nullptr;
    Counter* late = nullptr;
    Gauge* groups = nullptr;
    Gauge* state_bytes = nullptr;
    Gauge* firing = nullptr;
    Gauge* pending = nullptr;
  };
  void LoadFile(const std::string& path, ComponentContext& ctx, ConfigErrors* errors);
  void LoadRule(ConfigMap& rc, ComponentContext& ctx);
  // rule_engine_state.cc
  void InitState(ComponentContext& ctx);
  void RestoreDetectors();
  void RestoreAlerts();
  void AfterTick(int64_t now_ms);

  RuleEngineOptions opts_;
  std::vector<std::string> files_;
  std::vector<Rule> rules_;
  std::vector<std::pair<std::string, std::string>> rule_names_;  // name, "file:line"
  std::unique_ptr<ComponentMetrics> metrics_;
  Counter* future_events_ = nullptr;
  Counter* short_batches_ = nullptr;
  size_t fields_needed_ = 0;  // batches must carry at least the fields registered at Load
  // Builds what Observe reads besides rules_: the rules' conditions as one
  // ConditionSet (condition i is rule i's), and the fields that some rule
  // groups or fingerprints by (hashed once per event) with each field index's
  // position in that list (-1: not hashed).
  void IndexRules();
  // Rule i's selectors are conditions [selector_first_[i], + their count) of
  // conditions_ (after the rules' own).
  ConditionSet conditions_;
  std::vector<size_t> selector_first_;
  std::vector<int> hashed_fields_;
  std::vector<int> slot_of_;
  // The distinct group_by lists of the rules (as positions in hashed_fields_),
  // each one's group hash computed once per event (RulePlan::list: a rule's
  // list, -1 for a rule without group_by).
  std::vector<std::vector<int>> group_lists_;
  // [rule]: what Observe's loop over the rules reads per rule and chunk, in
  // one array the engine owns. Read from each Detector (8 x 30 times per
  // batch), the first field load missed the caches: the detectors' objects
  // lie apart, among their tables, which Apply and the batch's bytes evict
  // (the load after it took ~3% of Observe's samples, bench/run_rules_profile.sh).
  struct RulePlan {
    Detector::ValueSource source = Detector::ValueSource::kOne;
    Detector::Merge merge = Detector::Merge::kNo;  // kNo when !merge_updates
    bool value_runs = false;
    bool chunk_runs = false;  // matches gathered per group and chunk (see Observe)
    int list = -1;            // in group_lists_, -1: no group_by
    int value_field = -1;
    uint32_t selectors = 0;   // the engine's (0 when !engine_selectors)
    uint32_t key_first = 0, key_count = 0;  // the key fields' slots: key_slots_[key_first, + key_count)
    int64_t merge_ms = 0;
  };
  std::vector<RulePlan> plans_;
  std::vector<int> key_slots_;
  // [slot]: the group list of that slot alone, -1: none. A list whose slot
  // took every value's hashes from its partner slot's in a chunk (SlotPairs:
  // agent.name from host.name) has the partner's list's hashes, hence its
  // groups (Observe).
  std::vector<int> slot_list_;
  // Some rule's values are its events' sizes in runs (payload_size without a
  // field): Observe's times pass takes every event's size.
  bool event_sizes_ = false;
  bool hash_lanes_ = false;  // opts_.simd and hash_lanes, where the CPU has them (KeyChainLanes)

  std::string state_dir_;    // <data_dir>/state, empty: no persistence
  int64_t last_save_ms_ = 0;  // wall clock of the last periodic save
  std::mutex save_mu_;
  std::shared_ptr<ObserveLedger> ledger_;
  std::atomic<bool> saving_{true};
  uint64_t saved_alert_changes_ = 0;
  QueuePosition restored_position_;
  std::vector<Alert> orphaned_alerts_;  // firing before a restart, their rule changed or gone: resolved at the first Tick
  struct StateMetrics;
  std::shared_ptr<StateMetrics> state_metrics_;

  FanoutAlertSink fanout_;
  std::vector<std::shared_ptr<AlertSink>> owned_sinks_;  // shared with engines that take over

  std::atomic<int64_t> watermark_{INT64_MIN};
  std::atomic<int64_t> last_wall_{0};
  std::mutex tick_mu_;
  int64_t last_wm_ = INT64_MIN, wm_wall_ = 0;
  int64_t wm_base_ = 0;  // stream time at wm_wall_
  std::atomic<int64_t> stream_now_{0};
  mutable std::mutex alerts_mu_;  // trackers: written by Tick, read by ActiveAlerts

  std::thread ticker_;
  std::mutex ticker_mu_;
  std::condition_variable ticker_cv_;
  bool ticker_stop_ = false;
};

}  // namespace sluice::detectors
