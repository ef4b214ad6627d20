#pragma once
// What every detector implements, and the pieces they share: event-time bucket
// rings, the sharded group table with a size cap, and the registry that finds a
// detector by the rule's `type:`.
//
// The engine hands a detector compact updates (group key hash, event time,
// value), never JSON, already split by shard: Apply() for one shard runs under
// that shard's lock, so the pipeline's workers only contend when they touch
// the same shard, and take each lock once per batch, not per event.

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "common/config_reader.h"
#include "common/metrics.h"
#include "detectors/common/compact_string.h"
#include "detectors/common/condition.h"
#include "detectors/common/label_template.h"
#include "detectors/common/state_io.h"
#include "pipeline/batch.h"

namespace sluice {
class FieldRegistry;
}

namespace sluice::detectors {

// Shards of every detector's state: the top kShardBits bits of a key pick one.
// 4, not 16: the engine keeps a list per rule and shard and a detector's
// ApplyShards walks them all, 480 lists per Observe in the 30-rule set with
// 16, 120 with 4; the rules' share of sluice's samples went 0.2125 -> 0.2034,
// 0.2085 -> 0.2029 and 0.2199 -> 0.2134 (DuplicateSlotsDetector::ApplyShards
// 3.12% -> 2.89%; bench/run_rules_profile.sh, bench/RESULTS.md 2026-11-22).
// 8 was within the noise, and so was 2 against 4 (0.2107 against base 0.2197).
//
// A constant, not the worker count. Shards let the pipeline's workers apply
// at once; on this 2-core VM (2 workers, the default one per core) a
// contended ShardMutex (LockSlow) took no sample of ~10k with 4 shards or 16.
// Beyond: a worker holds a shard's lock ~5% of its time (the detectors'
// Apply, ~5% of samples) over ~30 rules x 4 shards, so another of W workers
// holds the one it takes ~(W - 1) x 5% / 120 of the time: ~0.6% of takings
// wait at 16 workers, each a part of a ~1 us hold. The detectors that lock a
// rule's shards all at once (ApplyShards: duplicate slots, payload_size's
// lockstep) serialize per rule whatever kShards is.
inline constexpr int kShardBits = 2;
inline constexpr size_t kShards = size_t{1} << kShardBits;
inline size_t ShardOf(uint64_t key) { return static_cast<size_t>(key >> (64 - kShardBits)); }
// Saved state records the shard count it was written with; a loader takes
// any count up to this (a snapshot of an earlier 16-shard build too), placing
// every entry in the shard its key picks now (group_state.h).
inline constexpr uint32_t kMaxSavedShards = 1u << 16;
// Hash of a rule's group when it has no group_by fields.
inline constexpr uint64_t kGroupSeed = 0x5eed5eed5eed5eedull;

// A rule as written in its file, validated and compiled (immutable).
struct RuleSpec {
  std::string name, type, file, hash;  // hash: of the rule's YAML definition
  int line = 0;
  std::string severity;
  int64_t for_ms = 0;
  std::vector<std::string> group_by;           // field paths
  std::vector<int> group_fields;               // their field indexes
  std::vector<std::string> group_label_names;  // dots → underscores
  std::vector<std::pair<std::string, LabelTemplate>> labels, annotations;
  std::unique_ptr<Condition> match;
};

// One matching event as a detector sees it, or for a detector that merges
// (Detector::merge()) a run of `count` matching events of one key in one
// bucket, in time order (ts <= ts_last): `event` and `ts` are the run's first,
// `ts_last` its newest time, `value` the kMax merge of its values.
struct Update {
  uint32_t event;      // index in the batch (for samples and labels of new groups)
  uint32_t count;      // events in the run (1 unless merged)
  uint64_t group;      // hash of the group fields
  uint64_t key;        // state key: the group, or group + fingerprint
  int64_t ts;          // event time (ms)
  double value;        // the detector's value (field number, event size), else 1
  int64_t ts_last;     // the run's newest event time (== ts unless merged)
};

// For a detector with Detector::value_runs(), an update with count > 1 is a
// run of one group's matches in one bucket, in time order (`ts` the first's,
// `ts_last` the last's, `event` the first's), whose `count` events (none
// without a number) are at RunEntries() in that order, `value` the first
// one's. Such a detector's key is its group (no key_fields): `key` carries
// the pointer.
struct RunEntry {
  double value;
  int64_t ts;
  uint32_t event;
};
inline const RunEntry* RunEntries(const Update& up) {
  return reinterpret_cast<const RunEntry*>(static_cast<uintptr_t>(up.key));
}
inline uint64_t RunEntriesKey(const RunEntry* entries) {
  return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(entries));
}

// A group whose condition holds at an evaluation.
struct GroupResult {
  uint64_t group = 0;
  Labels labels;  // the group labels (name_with_underscores → value)
  double value = 0, threshold = 0;
  Labels evidence;
};

// An event worth keeping as a sample for its group's alert.
struct SampleCandidate {
  uint64_t group;
  uint32_t event;
};

struct DetectorEnv {
  FieldRegistry* fields = nullptr;
  int64_t allowed_lateness_ms = 10'000;
  size_t max_groups = 100'000;  // per rule: groups or fingerprints
  Counter* evictions = nullptr;
  Counter* late_events = nullptr;
  MetricsRegistry* metrics = nullptr;  // for detector-specific series (flow stage latencies)
};

class Detector {
 public:
  // kSelector: the index of the first of selectors() that holds for the
  // event (-1: none), or NaN when the engine does not evaluate them
  // (RuleEngineOptions::engine_selectors off): the detector then tests them itself.
  enum class ValueSource : uint8_t { kOne, kField, kEventBytes, kSelector };
  explicit Detector(const RuleSpec* spec, const DetectorEnv& env) : spec_(spec), env_(env) {}
  virtual ~Detector() = default;

  // What the engine computes into Update::value.
  ValueSource value_source() const { return value_source_; }
  int value_field() const { return value_field_; }
  // Fields hashed (after the group) into Update::key; empty: key = group.
  const std::vector<int>& key_fields() const { return key_fields_; }
  // With ValueSource::kSelector: the conditions the engine evaluates with the
  // rules' (ConditionSet masks) to tell the detector which one an event meets
  // first (flow: a failed stage, else the furthest stage). They live as long
  // as the detector.
  const std::vector<const Condition*>& selectors() const { return selectors_; }
  // Whether the engine may merge a run of updates into one (Update::count):
  // consecutive updates of one shard's list with the same key, times not
  // decreasing, all within one bucket [k * merge_bucket_ms, (k + 1) *
  // merge_bucket_ms), values not NaN. A detector that merges must give the
  // same state and results for the merged update as for the run
  // (tests/detectors/merge_updates_test.cc). kCount: the value is not read;
  // kMax: the merged value is the run's maximum.
  enum class Merge : uint8_t { kNo, kCount, kMax };
  Merge merge() const { return merge_; }
  int64_t merge_bucket_ms() const { return merge_bucket_ms_; }
  // Whether the engine may hand a run of one group's matches with their
  // values (RunEntries(): sum, avg, payload_size, where every value counts):
  // under the same conditions as merge() kCount's runs, within buckets of
  // merge_bucket_ms(). The detector must give the same state and results as
  // for the run's updates one by one (ThresholdCompactTest and
  // PayloadRunsTest.ValueRunsSameAsPerMatch).
  bool value_runs() const { return value_runs_; }

  // Applies updates that all fall in `shard`. Called concurrently for
  // different shards. Appends events worth keeping as samples.
  virtual void Apply(size_t shard, const Update* u, size_t n, const Batch& batch,
                     std::vector<SampleCandidate>* samples) = 0;
  // Apply for every shard's updates at once (`lists[kShards]`, empty ones
  // skipped): the same state and samples, in the same order, as Apply shard
  // by shard in ascending order (the default). A detector whose groups'
  // updates are independent dependency chains may step several shards'
  // groups in lockstep (payload_size: ~1 group per shard, 4 per rule in the
  // 30-rule set). An override locks the shards it touches in ascending order,
  // which is deadlock-free with the one-shard-at-a-time lockers.
  virtual void ApplyShards(const std::vector<Update>* lists, const Batch& batch,
                           std::vector<SampleCandidate>* samples);
  // Evaluates every group with its windows closed up to `eval_ms` (event
  // time) and appends the groups whose condition holds. Called from one thread.
  virtual void Evaluate(int64_t eval_ms, std::vector<GroupResult>* active) = 0;
  virtual size_t groups() const = 0;
  virtual size_t state_bytes() const = 0;
  // Allowed lateness for this rule (may be less than asked: see MakeLayout).
  int64_t lateness_ms() const { return lateness_ms_; }

  // A detector that selects its events by its own parameters (flow: any of its
  // stages) returns that condition, once; the rule's `match:` is then optional.
  virtual std::unique_ptr<Condition> TakeImpliedMatch() { return nullptr; }
  // State that survives a restart (issue 6): the engine writes every rule's
  // state into one snapshot (rule_engine_state.cc), consistent with the
  // persisted queue, and loads it before the pipeline starts. Called with no
  // Apply or Evaluate running. LoadState returns false if the blob is not
  // this build's state (damaged, another layout): the rule then starts fresh.
  virtual void SaveState(StateWriter& /*w*/) {}
  virtual bool LoadState(StateReader& /*r*/) { return true; }
  // Whether saved state still loads after the rule's definition changed (flow:
  // its stages are mapped by name); otherwise a changed rule starts fresh.
  virtual bool state_survives_edits() const { return false; }

 protected:
  // Group label values of `event`, joined with '\0' (what a group stores).
  std::string GroupBlob(const Batch& batch, uint32_t event) const;
  // The same written to a group's labels; a group of one field whose text is
  // its bytes (a string without escapes, a number) without the std::string
  // (a new fingerprint per event in DuplicateShipping: detectors_bench
  // BM_ThirtyRulesStream).
  void SetGroupLabels(const Batch& batch, uint32_t event, CompactString* labels) const;
  Labels GroupLabels(std::string_view blob) const;

  const RuleSpec* spec_;
  DetectorEnv env_;
  ValueSource value_source_ = ValueSource::kOne;
  int value_field_ = -1;
  std::vector<int> key_fields_;
  std::vector<const Condition*> selectors_;
  int64_t lateness_ms_ = 0;
  Merge merge_ = Merge::kNo;
  int64_t merge_bucket_ms_ = 0;
  bool value_runs_ = false;
};

// How a rule's sliding window maps onto a ring of `slots` event-time buckets:
// `k` buckets of `bucket_ms` make the window; the rest of the ring holds
// events newer than the evaluation point (up to the allowed lateness). If the
// lateness does not fit next to the window, it is reduced.
struct WindowLayout {
  int64_t bucket_ms = 1000;
  int k = 1;
  int64_t lateness_ms = 0;
};
WindowLayout MakeLayout(int64_t window_ms, int64_t lateness_ms, int slots);

inline int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// FloorDiv(ts, bucket_ms) over a run of updates, remembering the last
// bucket's bounds: a batch's updates mostly fall in one bucket, and a 64-bit
// division per update showed in detectors_bench BM_ThirtyRulesObserve.
class BucketOfTime {
 public:
  explicit BucketOfTime(int64_t bucket_ms) : ms_(bucket_ms) {}
  int64_t operator()(int64_t ts) {
    if (ts >= lo_ && ts < hi_) return b_;
    b_ = FloorDiv(ts, ms_);
    if (ts > INT64_MIN / 2 && ts < INT64_MAX / 2) {
      lo_ = b_ * ms_;
      hi_ = lo_ + ms_;
    }
    return b_;
  }

 private:
  int64_t ms_, b_ = 0;
  int64_t lo_ = 0, hi_ = 0;  // [lo_, hi_): the times of bucket b_ (empty at first)
};

// A ring of S event-time buckets; `head` is the newest bucket written.
template <typename Cell, int S>
struct BucketRing {
  static constexpr int kSlots = S;
  int64_t head = INT64_MIN;
  Cell slot[S]{};

  static int Index(int64_t b) { return static_cast<int>(((b % S) + S) % S); }
  // The cell for bucket `b`, advancing the ring if `b` is newer than head;
  // nullptr if `b` is older than the ring holds (a late event).
  Cell* At(int64_t b) {
    if (head == INT64_MIN) {
      head = b;
    } else if (b > head) {
      if (b - head >= S) {
        for (auto& c : slot) c = Cell{};
      } else {
        for (int64_t j = head + 1; j <= b; ++j) slot[Index(j)] = Cell{};
      }
      head = b;
    } else if (b <= head - S) {
      return nullptr;
    }
    return &slot[Index(b)];
  }
  const Cell* Get(int64_t b) const {
    if (head == INT64_MIN || b > head || b <= head - S) return nullptr;
    return &slot[Index(b)];
  }
};

// A shard's lock: a flag taken by one exchange and given back by a plain
// store. Rules take one per non-empty shard per rule every 512 events (the
// engine's ApplyShards), ~1 per event in the 30-rule set, nearly never
// contended (a pipeline worker per core); std::mutex's call in and out of
// pthread_mutex_lock/unlock, a locked instruction each, showed as +137 samples
// per 8 M events over the plain Beats run (~0.5% of the rules run). A waiter
// spins a while, then yields its core (a holder that was preempted, Evaluate
// holding all shards).
class ShardMutex {
 public:
  void lock() {
    if (!taken_.exchange(true, std::memory_order_acquire)) return;
    LockSlow();
  }
  bool try_lock() { return !taken_.load(std::memory_order_relaxed) && !taken_.exchange(true, std::memory_order_acquire); }
  void unlock() { taken_.store(false, std::memory_order_release); }

 private:
  void LockSlow();
  std::atomic<bool> taken_{false};
};

// Per-rule state keyed by a 64-bit hash, in kShards shards each with its own
// lock, capped at `max` entries in total: when a shard is full, the least
// recently seen of a few probed entries is evicted (an approximate LRU).
// State must have `int64_t last_seen`.
//
// The probed entries are the 8 that follow the last ones probed in the
// table's order (a sweep that goes round the table), not the table's first 8: taking
// every victim from the front left the free slots there and the rest of the
// table full of entries and tombstones, so that every look-up and insertion
// at the cap probed long sequences (~3000 instructions per new group against
// ~900: detectors_bench BM_DuplicateAtCap, bench/RESULTS.md), and entries at
// the back were never evicted however old (tests/detectors/group_table_test.cc).
template <typename State>
class GroupTable {
 public:
  struct Shard {
    mutable ShardMutex mu;
    absl::flat_hash_map<uint64_t, State> map;
    uint64_t sweep = 0;       // the key of the entry after the last ones probed
    bool has_sweep = false;   // (absent when evicted since: the sweep starts over)
  };
  explicit GroupTable(size_t max_total) : cap_(std::max<size_t>(1, max_total / kShards)) {}

  Shard& shard(size_t i) { return shards_[i]; }
  const Shard& shard(size_t i) const { return shards_[i]; }
  // Finds or inserts `key` in `s` (locked by the caller). *created tells which.
  State& Get(Shard& s, uint64_t key, bool* created, Counter* evictions) {
    if (s.map.size() < cap_) {
      // Below the cap, one probe that finds the key or inserts it, leaving the
      // table as the look-up then insertion below would.
      auto [it, inserted] = s.map.try_emplace(key);
      *created = inserted;
      return it->second;
    }
    auto it = s.map.find(key);
    if (it != s.map.end()) {
      *created = false;
      return it->second;
    }
    if (s.map.size() >= cap_) {
      auto start = s.map.end();
      if (s.has_sweep) start = s.map.find(s.sweep);
      if (start == s.map.end()) start = s.map.begin();
      auto victim = start;
      auto p = start;
      for (int probes = 0; probes < 8; ++probes, ++p) {
        if (p == s.map.end()) p = s.map.begin();
        if (p->second.last_seen < victim->second.last_seen) victim = p;
      }
      // The sweep goes on after the 8 probed (all of the table in cap / 8
      // evictions, within the tombstones' rehashes that reorder it).
      if (p == s.map.end()) p = s.map.begin();
      if (p == victim && ++p == s.map.end()) p = s.map.begin();
      s.has_sweep = p != victim;
      s.sweep = p->first;
      s.map.erase(victim);
      if (evictions) evictions->Inc();
    }
    *created = true;
    return s.map.try_emplace(key).first->second;
  }
  // Get for a run of updates that often repeats a key (one shard's updates of
  // a batch): the last key's state is remembered. Its pointer stays valid
  // until the next insertion, and an insertion replaces it.
  struct Cursor {
    uint64_t key = 0;
    State* state = nullptr;
  };
  State& Get(Shard& s, uint64_t key, bool* created, Counter* evictions, Cursor* c) {
    if (c->state && c->key == key) {
      *created = false;
      return *c->state;
    }
    State& st = Get(s, key, created, evictions);
    c->key = key;
    c->state = &st;
    return st;
  }
  // How many more groups `s` (locked by the caller) takes before it evicts.
  size_t room(const Shard& s) const { return s.map.size() < cap_ ? cap_ - s.map.size() : 0; }
  size_t size() const {
    size_t n = 0;
    for (const auto& s : shards_) {
      std::lock_guard<ShardMutex> l(s.mu);
      n += s.map.size();
    }
    return n;
  }
  // Approximate bytes: entries (key + state + control byte) over the table capacity.
  size_t bytes() const {
    size_t n = 0;
    for (const auto& s : shards_) {
      std::lock_guard<ShardMutex> l(s.mu);
      n += s.map.capacity() * (sizeof(std::pair<uint64_t, State>) + 1);
    }
    return n;
  }
  // bytes() and maps a detector keeps beside it per shard ([kShards], under
  // the shards' locks), alike.
  template <typename Map>
  size_t bytes_with(const Map* side) const {
    size_t n = bytes();
    for (size_t i = 0; i < kShards; ++i) {
      std::lock_guard<ShardMutex> l(shards_[i].mu);
      n += side[i].capacity() * (sizeof(typename Map::value_type) + 1);
    }
    return n;
  }

 private:
  size_t cap_;
  Shard shards_[kShards];
};

// Finds a detector by the rule's `type:`. A factory reads the type's
// parameters from `cfg` (errors go to cfg.errors(); the engine calls Finish()).
using DetectorFactory =
    std::function<std::unique_ptr<Detector>(ConfigMap& cfg, const RuleSpec* spec, const DetectorEnv& env)>;

class DetectorRegistry {
 public:
  static DetectorRegistry& Get();
  bool Register(std::string type, DetectorFactory f);
  const DetectorFactory* Find(const std::string& type) const;
  std::vector<std::string> Names() const;
  // Types whose rules select their own events (flow: by its stages), so
  // `match:` is optional (see Detector::TakeImpliedMatch).
  bool MarkSelectsOwnEvents(std::string type) { return own_events_.insert(std::move(type)).second; }
  bool SelectsOwnEvents(const std::string& type) const { return own_events_.count(type) != 0; }

 private:
  std::map<std::string, DetectorFactory> factories_;
  std::set<std::string> own_events_;
};

#define SLUICE_REGISTER_DETECTOR(type_name, factory) \
  static const bool SLUICE_DETECTOR_CONCAT(sluice_detector_registered_, __LINE__) = \
      ::sluice::detectors::DetectorRegistry::Get().Register(type_name, factory)
#define SLUICE_DETECTOR_CONCAT_INNER(a, b) a##b
#define SLUICE_DETECTOR_CONCAT(a, b) SLUICE_DETECTOR_CONCAT_INNER(a, b)

// Helpers for factories.
// A required duration ("window: 5m"); reports a missing key.
int64_t RequiredDurationMs(ConfigMap& cfg, std::string_view key, int64_t min_ms = 1);
// Registers a numeric `field` and returns its index, or -1 if absent.
int OptionalField(ConfigMap& cfg, std::string_view key, FieldRegistry* fields);

}  // namespace sluice::detectors
