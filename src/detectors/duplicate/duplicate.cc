#include "detectors/duplicate/duplicate.h"

#include "absl/container/flat_hash_map.h"
#include "common/strings.h"
#include "detectors/common/group_state.h"
#include "detectors/common/label_template.h"
#include "detectors/duplicate/fingerprint_slots.h"
#include "pipeline/component.h"

namespace sluice::detectors {
namespace {

constexpr size_t kBlock = 16;  // updates looked up before they are applied
constexpr size_t kPrefetchAhead = 8;  // updates (update by update)
constexpr size_t kSlotsAhead = 16;    // updates (DuplicateSlotsDetector)

// Test knobs (SetDuplicateBlocksForTest, SetDuplicateSlotsForTest).
bool duplicate_blocks = true;
bool duplicate_slots = true;

struct DuplicateParams {
  int64_t window_ms = 0;
  uint32_t max_repeats = 1;
};

// A fingerprint's state: 32 bytes, 40 with its key (was 48 and 56 with its
// group's labels, a CompactString copied into every fingerprint: one per
// shipped line in the 30-rule set's DuplicateShipping, detectors_bench
// BM_ThirtyRulesStream). The labels live once per group and shard (Labels).
struct Fingerprint {
  uint64_t group = 0;
  int64_t first = 0;      // first request of the current window
  int64_t last_seen = 0;  // newest request
  uint32_t count = 0;
};
static_assert(sizeof(std::pair<uint64_t, Fingerprint>) <= 40);

// A group's label values (\0-separated) for the fingerprints of one shard:
// set by the first fingerprint of the group the shard gets, dropped by
// Evaluate once the shard holds none of the group's (`mark`: the last
// Evaluate that found one).
struct GroupLabelsEntry {
  CompactString labels;
  uint64_t mark = 0;
};

// The entries of the last few groups looked up in a shard's labels (by the
// group hash's low bits): fingerprints of a few groups come in any order
// (Apply's updates, a table's iteration in Evaluate), and a hash look-up per
// fingerprint would cost more than the labels it saves. Valid while the
// labels see no insertion or erasure (Apply's pointers are only compared).
class MarkCache {
 public:
  GroupLabelsEntry* Find(uint64_t group) const {
    const size_t i = group % kSize;
    return (used_ >> i & 1) && group_[i] == group ? entry_[i] : nullptr;
  }
  void Put(uint64_t group, GroupLabelsEntry* e) {
    const size_t i = group % kSize;
    used_ |= uint64_t{1} << i;
    group_[i] = group;
    entry_[i] = e;
  }

 private:
  static constexpr size_t kSize = 64;
  uint64_t used_ = 0;
  uint64_t group_[kSize];
  GroupLabelsEntry* entry_[kSize];
};

// What the two tables' detectors share: the parameters, the groups' labels
// per shard, how an update changes a fingerprint, Evaluate's aggregation and
// the saved state's format.
class DuplicateBase : public Detector {
 public:
  DuplicateBase(const RuleSpec* spec, const DetectorEnv& env, DuplicateParams p, std::vector<int> fp)
      : Detector(spec, env), p_(p) {
    lateness_ms_ = env.allowed_lateness_ms;
    key_fields_ = std::move(fp);
  }

 protected:
  using LabelsMap = absl::flat_hash_map<uint64_t, GroupLabelsEntry>;
  struct Agg {
    uint32_t max_count = 0;
    uint64_t wasted = 0;
    uint32_t fingerprints = 0;
    const CompactString* labels = nullptr;
  };
  using Aggs = absl::flat_hash_map<uint64_t, Agg>;

  // A fingerprint's times, in either layout.
  static int64_t First(const Fingerprint& f) { return f.first; }
  static int64_t First(const FingerprintSlot& f) { return f.first(); }
  static void Start(Fingerprint& f, uint64_t group, int64_t ts) {
    f.group = group;
    f.first = f.last_seen = ts;
    f.count = 1;
  }
  static void Start(FingerprintSlot& f, uint64_t group, int64_t ts) {
    f.group = group;
    f.last_seen = ts;
    f.span = 0;
    f.count = 1;
  }
  // ts within (last_seen - window, first): span < window.
  static void SetFirst(Fingerprint& f, int64_t ts) { f.first = ts; }
  static void SetFirst(FingerprintSlot& f, int64_t ts) { f.span = static_cast<uint32_t>(f.last_seen - ts); }
  // ts within (last_seen, first + window): span < window.
  static void SetLast(Fingerprint& f, int64_t ts) { f.last_seen = ts; }
  static void SetLast(FingerprintSlot& f, int64_t ts) {
    f.span = static_cast<uint32_t>(ts - f.first());
    f.last_seen = ts;
  }

  // One update applied to its fingerprint `f` (`created`: new in the table).
  template <typename F>
  void ApplyOne(F& f, bool created, const Update& up, const Batch& batch, LabelsMap& labels, MarkCache& labelled,
                std::vector<SampleCandidate>* samples) {
    if (created || up.ts >= First(f) + p_.window_ms) {
      // A new fingerprint, or its window is over: start counting again.
      if (created && !labelled.Find(up.group)) {
        auto [it, inserted] = labels.try_emplace(up.group);
        if (inserted) SetGroupLabels(batch, up.event, &it->second.labels);
        labelled.Put(up.group, &it->second);
      }
      Start(f, up.group, up.ts);
      return;
    }
    if (up.ts < First(f)) {
      if (up.ts <= f.last_seen - p_.window_ms) {
        env_.late_events->Inc();  // older than anything the window still counts
        return;
      }
      SetFirst(f, up.ts);
    }
    if (up.ts > f.last_seen) SetLast(f, up.ts);
    ++f.count;
    // The first few repeats beyond the limit are the evidence.
    if (f.count > p_.max_repeats && f.count <= p_.max_repeats + 2) samples->push_back({up.group, up.event});
  }

  // Evaluate: a fingerprint still in its window, of a group whose labels are
  // in `labels` (its shard's), marks them kept and counts for its group.
  void Count(uint64_t group, uint32_t count, LabelsMap& labels, MarkCache& marked, Aggs* by_group) {
    GroupLabelsEntry* entry = marked.Find(group);
    if (!entry) {
      // Every fingerprint's group has its entry (Apply, LoadState): a
      // look-up, no insertion that would move the entries a.labels points to.
      auto e = labels.find(group);
      entry = e != labels.end() ? &e->second : &no_labels_;
      entry->mark = mark_;
      marked.Put(group, entry);
    }
    if (count > p_.max_repeats) {
      Agg& a = (*by_group)[group];
      a.max_count = std::max(a.max_count, count);
      a.wasted += count - 1;
      ++a.fingerprints;
      a.labels = &entry->labels;
    }
  }
  // Evaluate's results, then the labels of groups none of whose fingerprints
  // a shard holds any more.
  void Report(const Aggs& by_group, std::vector<GroupResult>* active) {
    for (const auto& [group, a] : by_group) {
      GroupResult r;
      r.group = group;
      r.labels = GroupLabels(*a.labels);
      r.value = a.max_count;
      r.threshold = p_.max_repeats;
      r.evidence = {{"wasted_calculations", StrCat(a.wasted)},
                    {"fingerprints", StrCat(a.fingerprints)},
                    {"window", FormatValue(static_cast<double>(p_.window_ms) / 1000) + "s"}};
      active->push_back(std::move(r));
    }
    for (auto& labels : labels_) {
      absl::erase_if(labels, [this](const auto& kv) { return kv.second.mark != mark_; });
    }
  }

  // Saved state (issue 6): every fingerprint with its window, count and its
  // group's labels (as when every fingerprint kept them), under its shard's lock.
  void SaveOne(StateWriter& out, uint64_t key, uint64_t group, int64_t first, int64_t last_seen, uint32_t count) {
    out.U64(group);
    out.I64(first);
    out.I64(last_seen);
    out.U32(count);
    const auto& labels = labels_[ShardOf(key)];
    auto it = labels.find(group);
    // (Both sides lvalues: no copy of the labels, and no empty temporary that
    // GCC's -Wmaybe-uninitialized misread once SaveShards inlined this.)
    SaveLabels(out, it != labels.end() ? it->second.labels : no_labels_.labels);
  }
  static bool LoadOne(StateReader& in, Fingerprint* f, CompactString* labels) {
    return in.U64(&f->group) && in.I64(&f->first) && in.I64(&f->last_seen) && in.U32(&f->count) &&
           LoadLabels(in, labels);
  }
  // A loaded fingerprint's group labels, unless its shard has them already.
  void AdoptLabels(uint64_t key, uint64_t group, CompactString&& text) {
    auto [it, inserted] = labels_[ShardOf(key)].try_emplace(group);
    if (inserted) it->second.labels = std::move(text);
  }

  DuplicateParams p_;
  // [shard]: the labels of the groups of its fingerprints, under the shard's lock.
  LabelsMap labels_[kShards];
  uint64_t mark_ = 0;  // Evaluates so far (GroupLabelsEntry::mark)
  GroupLabelsEntry no_labels_;
};

// Fingerprints in a GroupTable (absl::flat_hash_map): windows of kMaxWindowMs
// and longer, and the reference for DuplicateSlotsDetector in tests
// (SetDuplicateSlotsForTest(false)).
class DuplicateDetector : public DuplicateBase {
 public:
  DuplicateDetector(const RuleSpec* spec, const DetectorEnv& env, DuplicateParams p, std::vector<int> fp)
      : DuplicateBase(spec, env, p, std::move(fp)), table_(env.max_groups) {}

  void Apply(size_t shard, const Update* u, size_t n, const Batch& batch,
             std::vector<SampleCandidate>* samples) override {
    auto& s = table_.shard(shard);
    std::lock_guard<ShardMutex> lock(s.mu);
    auto& labels = labels_[shard];
    MarkCache labelled;  // groups whose labels the shard has
    size_t created_n = 0;  // new fingerprints in this call
    if (!blocks_ || mostly_new_[shard] || table_.room(s) < n) {
      // Update by update. With blocks, a block's look-up of a new fingerprint
      // fails and Get then looks it up again: not when the shard's last call
      // made mostly new ones, nor near the cap, where a failing look-up
      // probes long (detectors_bench BM_DuplicateAtCap, a new fingerprint per
      // event: 11.2 -> 9.5-10.2 M items/s with blocks throughout).
      // The key of the update kPrefetchAhead on is prefetched meanwhile.
      for (size_t i = 0; i < std::min(n, kPrefetchAhead); ++i) s.map.prefetch(u[i].key);
      for (size_t i = 0; i < n; ++i) {
        if (i + kPrefetchAhead < n) s.map.prefetch(u[i + kPrefetchAhead].key);
        bool created;
        Fingerprint& f = table_.Get(s, u[i].key, &created, env_.evictions);
        created_n += created;
        ApplyOne(f, created, u[i], batch, labels, labelled, samples);
      }
      mostly_new_[shard] = 2 * created_n > n;
      return;
    }
    for (size_t i = 0; i < std::min(n, 2 * kBlock); ++i) s.map.prefetch(u[i].key);
    Fingerprint* found[kBlock];
    for (size_t i = 0; i < n;) {
      // The fingerprints of the next kBlock updates looked up first, then
      // applied. Their slots are far apart in the table (one fingerprint
      // per shipped line in the 30-rule set's DuplicateShipping: 16384 of
      // them cycling in the bench stream, ~1.3 MB of slots), and the
      // prefetch of a key (its control bytes and its probe's first slot)
      // often missed the slot the key is in: one look-up at a time, each
      // waited for its slot (GroupTable<Fingerprint>::Get 1.7% and
      // DuplicateDetector::Apply 3.0% of sluice's samples in the 30-rule
      // run, ~3/4 of each on the slot's first read). Look-ups side by side
      // wait for their slots together. Applying a found fingerprint's update
      // changes no table, so the pointers hold for the block; it ends at the
      // first key not in the table, applied by Get (which may insert, evict,
      // rehash) after the block.
      const size_t end = std::min(n, i + kBlock);
      for (size_t k = end; k < std::min(n, end + kBlock); ++k) s.map.prefetch(u[k].key);
      size_t m = 0;
      for (; i + m < end; ++m) {
        auto it = s.map.find(u[i + m].key);
        if (it == s.map.end()) break;
        found[m] = &it->second;
        // A slot may straddle two cache lines: the end of it too.
        __builtin_prefetch(reinterpret_cast<const char*>(found[m] + 1) - 1);
      }
      for (size_t k = 0; k < m; ++k) ApplyOne(*found[k], false, u[i + k], batch, labels, labelled, samples);
      i += m;
      if (i < end) {
        bool created;
        Fingerprint& f = table_.Get(s, u[i].key, &created, env_.evictions);
        created_n += created;
        ApplyOne(f, created, u[i], batch, labels, labelled, samples);
        ++i;
      }
    }
    mostly_new_[shard] = 2 * created_n > n;
  }

  void Evaluate(int64_t eval_ms, std::vector<GroupResult>* active) override {
    Aggs by_group;
    std::vector<std::unique_lock<ShardMutex>> locks;  // labels are read after the loop
    ++mark_;
    for (size_t si = 0; si < kShards; ++si) {
      auto& s = table_.shard(si);
      locks.emplace_back(s.mu);
      MarkCache marked;
      for (auto it = s.map.begin(); it != s.map.end();) {
        Fingerprint& f = it->second;
        if (f.last_seen < eval_ms - p_.window_ms) {
          s.map.erase(it++);
          continue;
        }
        Count(f.group, f.count, labels_[si], marked, &by_group);
        ++it;
      }
    }
    Report(by_group, active);
  }

  size_t groups() const override { return table_.size(); }
  size_t state_bytes() const override { return table_.bytes_with(labels_); }

  void SaveState(StateWriter& w) override {
    SaveGroups(table_, w, [this](StateWriter& out, uint64_t key, const Fingerprint& f) {
      SaveOne(out, key, f.group, f.first, f.last_seen, f.count);
    });
  }
  bool LoadState(StateReader& r) override {
    std::vector<std::pair<uint64_t, Fingerprint>> loaded;  // key, and the group's labels in `texts`
    std::vector<CompactString> texts;
    if (!LoadGroups(table_, r, [&](StateReader& in, uint64_t key, Fingerprint* f) {
          CompactString l;
          if (!LoadOne(in, f, &l)) return false;
          loaded.emplace_back(key, *f);
          texts.push_back(std::move(l));
          return true;
        })) {
      return false;
    }
    for (size_t i = 0; i < loaded.size(); ++i) {
      std::lock_guard<ShardMutex> lock(table_.shard(ShardOf(loaded[i].first)).mu);
      AdoptLabels(loaded[i].first, loaded[i].second.group, std::move(texts[i]));
    }
    return true;
  }

 private:
  const bool blocks_ = duplicate_blocks;
  GroupTable<Fingerprint> table_;
  // [shard]: whether its last Apply made more new fingerprints than it found
  // (under the shard's lock): the next goes update by update.
  bool mostly_new_[kShards] = {};
};

// Fingerprints in FingerprintSlots (windows below its kMaxWindowMs): a slot
// per fingerprint, its home block (two lines) prefetched kSlotsAhead updates
// before the update that looks it up. The same state, samples and results as
// DuplicateDetector (tests/detectors/duplicate_slots_test.cc); at the cap,
// a new fingerprint takes the place of the least recently seen in its block
// of the table (FingerprintSlots::InsertEvicting), not of 8 from a sweep.
class DuplicateSlotsDetector : public DuplicateBase {
 public:
  DuplicateSlotsDetector(const RuleSpec* spec, const DetectorEnv& env, DuplicateParams p, std::vector<int> fp)
      : DuplicateBase(spec, env, p, std::move(fp)), cap_(std::max<size_t>(1, env.max_groups / kShards)) {}

  void Apply(size_t shard, const Update* u, size_t n, const Batch& batch,
             std::vector<SampleCandidate>* samples) override {
    Shard& s = shards_[shard];
    std::lock_guard<ShardMutex> lock(s.mu);
    MarkCache labelled;  // groups whose labels the shard has
    for (size_t i = 0; i < std::min(n, kSlotsAhead); ++i) s.slots.Prefetch(u[i].key);
    for (size_t i = 0; i < n; ++i) {
      if (i + kSlotsAhead < n) s.slots.Prefetch(u[i + kSlotsAhead].key);
      ApplyAt(shard, u[i], batch, labelled, samples);
    }
    CountEvictions(s);
  }
  // Every shard's updates under all their locks (taken in ascending order),
  // the prefetch kSlotsAhead updates on running across shards: a shard's list
  // holds ~128 updates of a call in the 30-rule run (512 events over 4
  // shards; ~32 over the 16 there were when this was measured), and a
  // prefetch that starts over with each list leaves its first updates
  // waiting for their lines.
  void ApplyShards(const std::vector<Update>* lists, const Batch& batch,
                   std::vector<SampleCandidate>* samples) override {
    std::unique_lock<ShardMutex> locks[kShards];
    for (size_t si = 0; si < kShards; ++si) {
      if (!lists[si].empty()) locks[si] = std::unique_lock<ShardMutex>(shards_[si].mu);
    }
    size_t ps = 0, pi = 0;  // the next update to prefetch
    auto prefetch_next = [&] {
      while (ps < kShards && pi == lists[ps].size()) {
        ++ps;
        pi = 0;
      }
      if (ps < kShards) shards_[ps].slots.Prefetch(lists[ps][pi++].key);
    };
    for (size_t k = 0; k < kSlotsAhead; ++k) prefetch_next();
    for (size_t si = 0; si < kShards; ++si) {
      MarkCache labelled;
      for (const Update& up : lists[si]) {
        prefetch_next();
        ApplyAt(si, up, batch, labelled, samples);
      }
      CountEvictions(shards_[si]);
    }
  }

  void Evaluate(int64_t eval_ms, std::vector<GroupResult>* active) override {
    Aggs by_group;
    std::vector<std::unique_lock<ShardMutex>> locks;  // labels are read after the loop
    ++mark_;
    for (size_t si = 0; si < kShards; ++si) {
      Shard& s = shards_[si];
      locks.emplace_back(s.mu);
      MarkCache marked;
      s.slots.ForEach([&](FingerprintSlot& f) {
        if (f.last_seen < eval_ms - p_.window_ms) {
          s.slots.Erase(&f);
        } else {
          Count(f.group, f.count, labels_[si], marked, &by_group);
        }
      });
      s.slots.Compact();
    }
    Report(by_group, active);
  }

  size_t groups() const override {
    size_t n = 0;
    for (const Shard& s : shards_) {
      std::lock_guard<ShardMutex> lock(s.mu);
      n += s.slots.size();
    }
    return n;
  }
  // Slots over the tables' capacity with their overflow bits, and the labels' maps alike.
  size_t state_bytes() const override {
    size_t n = 0;
    for (size_t i = 0; i < kShards; ++i) {
      std::lock_guard<ShardMutex> lock(shards_[i].mu);
      n += shards_[i].slots.bytes() +
           labels_[i].capacity() * (sizeof(LabelsMap::value_type) + 1);
    }
    return n;
  }

  // The format of SaveGroups and LoadGroups (group_state.h), as DuplicateDetector's.
  void SaveState(StateWriter& w) override {
    SaveShards(
        w,
        [this](size_t i, const auto& fn) {
          Shard& s = shards_[i];
          std::lock_guard<ShardMutex> lock(s.mu);
          s.slots.ForEach([&](FingerprintSlot& f) { fn(f.key, f); });
        },
        [&](uint64_t key, const FingerprintSlot& f) {
          w.U64(key);
          SaveOne(w, key, f.group, f.first(), f.last_seen, f.count);
        });
  }
  // Refuses (nothing loaded) a fingerprint whose span does not fit a slot:
  // never one this rule saved (span < window < kMaxWindowMs). As LoadGroups,
  // takes a snapshot of any shard count (placed by ShardOf(key), under cap_).
  bool LoadState(StateReader& r) override {
    uint32_t shards;
    if (!LoadShardCount(r, &shards)) return false;
    std::vector<std::pair<uint64_t, Fingerprint>> loaded;  // key, and the group's labels in `texts`
    std::vector<CompactString> texts;
    for (uint32_t i = 0; i < shards; ++i) {
      uint64_t n;
      if (!r.U64(&n) || n > r.left() / 8) return false;
      for (uint64_t j = 0; j < n; ++j) {
        uint64_t key;
        Fingerprint f;
        CompactString l;
        if (!r.U64(&key) || !LoadOne(r, &f, &l) || !r.ok()) return false;
        if (f.last_seen < f.first ||
            static_cast<uint64_t>(f.last_seen) - static_cast<uint64_t>(f.first) >= FingerprintSlot::kErased) {
          return false;
        }
        loaded.emplace_back(key, f);
        texts.push_back(std::move(l));
      }
    }
    for (size_t i = 0; i < loaded.size(); ++i) {
      const auto& [key, f] = loaded[i];
      Shard& s = shards_[ShardOf(key)];
      std::lock_guard<ShardMutex> lock(s.mu);
      FingerprintSlot* slot = s.slots.Find(key);
      if (!slot) slot = Insert(s, key, /*count_eviction=*/false);
      slot->group = f.group;
      slot->last_seen = f.last_seen;
      slot->span = static_cast<uint32_t>(f.last_seen - f.first);
      slot->count = f.count;
      AdoptLabels(key, f.group, std::move(texts[i]));
    }
    return true;
  }

 private:
  struct Shard {
    mutable ShardMutex mu;
    FingerprintSlots slots;
    // Evictions not yet counted: added to env_.evictions once per call that
    // holds the lock, not by a locked add per eviction (at the cap, a new
    // fingerprint per event: ~0.7% of sluice's samples after that add).
    uint64_t evicted = 0;
  };
  // One update of `shard` (locked), its fingerprint found or inserted.
  void ApplyAt(size_t shard, const Update& up, const Batch& batch, MarkCache& labelled,
               std::vector<SampleCandidate>* samples) {
    Shard& s = shards_[shard];
    bool created = false;
    FingerprintSlot* f = s.slots.Find(up.key);
    if (!f) {
      f = Insert(s, up.key);
      created = true;
    }
    ApplyOne(*f, created, up, batch, labels_[shard], labelled, samples);
  }
  // The shard's (locked) evictions since the last call, counted.
  void CountEvictions(Shard& s) {
    if (s.evicted && env_.evictions) env_.evictions->Inc(s.evicted);
    s.evicted = 0;
  }
  // A slot for `key` (not in the shard), evicting one at the cap.
  FingerprintSlot* Insert(Shard& s, uint64_t key, bool count_eviction = true) {
    if (s.slots.size() >= low_cap_) {
      uint32_t evicted;
      FingerprintSlot* f = s.slots.InsertEvicting(key, low_cap_, cap_, &evicted);
      if (count_eviction) s.evicted += evicted;
      return f;
    }
    return s.slots.Insert(key);
  }

  const size_t cap_;  // fingerprints per shard, as GroupTable's
  // Where evictions start: a shard holds between this and cap_ fingerprints
  // once full (FingerprintSlots::InsertEvicting's slack, 1/64 of the cap).
  const size_t low_cap_ = cap_ - cap_ / 64;
  Shard shards_[kShards];
};

}  // namespace

std::unique_ptr<Detector> NewDuplicateDetector(ConfigMap& cfg, const RuleSpec* spec, const DetectorEnv& env) {
  DuplicateParams p;
  size_t errors_before = cfg.errors()->list().size();
  std::vector<int> fp;
  if (!cfg.Has("fingerprint")) {
    cfg.Error("fingerprint", "required parameter is missing (a list of fields)");
  }
  for (const std::string& path : cfg.StringList("fingerprint")) {
    if (path.empty()) {
      cfg.Error("fingerprint", "empty field path");
      continue;
    }
    fp.push_back(env.fields->Register(path));
  }
  if (cfg.Has("fingerprint") && fp.empty()) cfg.Error("fingerprint", "expected at least one field");
  p.window_ms = RequiredDurationMs(cfg, "window");
  p.max_repeats = static_cast<uint32_t>(cfg.Int("max_repeats", 1, 0, 1'000'000'000));
  if (cfg.errors()->list().size() != errors_before) return nullptr;
  if (duplicate_slots && p.window_ms < FingerprintSlots::kMaxWindowMs) {
    return std::make_unique<DuplicateSlotsDetector>(spec, env, p, std::move(fp));
  }
  return std::make_unique<DuplicateDetector>(spec, env, p, std::move(fp));
}

SLUICE_REGISTER_DETECTOR("duplicate", NewDuplicateDetector);

void SetDuplicateBlocksForTest(bool on) { duplicate_blocks = on; }
void SetDuplicateSlotsForTest(bool on) { duplicate_slots = on; }

}  // namespace sluice::detectors
