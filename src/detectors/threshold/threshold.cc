#include "detectors/threshold/threshold.h"

#include <cmath>
#include <limits>

#include "common/strings.h"
#include "detectors/common/group_state.h"
#include "detectors/common/label_template.h"

namespace sluice::detectors {
namespace {

// 10 slots: 8 buckets per window plus the allowed lateness for windows of
// 80 s and more at the default 10 s lateness (a 1m window gets 7 buckets).
// Was 12 (tests/detectors/state_size_test.cc).
constexpr int kSlots = 10;

struct CountCell {
  uint32_t n = 0;
};
// The per-bucket value is a float (24-bit mantissa): exact for integers up to
// 16.7 million per bucket, otherwise within ~1e-7 relative per addition; the
// window total is summed in double.
struct AggCell {
  float v = 0;
  uint32_t n = 0;
};

// A group's window as every update leaves it: what a count group keeps, and
// an aggregate group that does not fit its compact form (AggGroup).
template <typename Cell>
struct Window {
  BucketRing<Cell, kSlots> ring;
  int64_t first_seen = 0;
  int64_t last_seen = 0;
};

struct CountGroup : Window<CountCell> {
  CompactString labels;  // group label values, \0-separated
};

// An aggregate group (sum, max, avg of a field) in 88 bytes, 96 with its key
// (was 128: a Window<AggCell> and the labels), so that the table's ~1.3 slots
// per group stay within 128 bytes a group by the gauge. Exactly what its
// Window<AggCell> would hold, for every decision:
//  * the ring's head is the bucket of last_seen: an update raises the head to
//    its bucket only by raising last_seen into it (Update::ts_last lies in
//    the bucket of Update::ts), so the head is not stored;
//  * a cell is a float and a 16-bit count (v[i], n[i]);
//  * first_seen is only compared with a window's start, a bucket boundary:
//    first_seen <= w * bucket_ms exactly when CeilDiv(first_seen, bucket_ms)
//    <= w, and CeilDiv keeps min(); so the group keeps that bucket, as an
//    offset below the head (saved state writes it as the bucket's start).
// A group whose values do not fit (a bucket over 65,535 events, an offset over
// 2^31 buckets, times before 1970 or near the end of int64, the seeded group
// of a `below` rule without group_by, whose ring starts empty) keeps its
// Window<AggCell> in its shard's wide map instead (`first == kWide`) until it
// is dropped; last_seen is then kept in both (the table's LRU reads it here).
struct AggGroup {
  int64_t last_seen = 0;
  float v[kSlots]{};
  uint16_t n[kSlots]{};
  int32_t first = 0;  // head - CeilDiv(first_seen, bucket_ms) (>= -1), or kWide
  CompactString labels;
};
constexpr int32_t kWide = INT32_MIN;
using AggWindow = Window<AggCell>;
using Ring = BucketRing<AggCell, kSlots>;

// Key + state per tracked group (tests/detectors/state_size_test.cc): was 256
// (aggregate) and 144 (count) bytes with double cells, 12 slots, std::string;
// then 128 (aggregate).
static_assert(sizeof(std::pair<uint64_t, AggGroup>) <= 96);
static_assert(sizeof(std::pair<uint64_t, CountGroup>) <= 88);

// Test knobs (SetThresholdCompactLimitsForTest): the most a compact cell
// counts and the largest first_seen offset it keeps.
uint32_t compact_max_n = 0xFFFF;
int32_t compact_max_first = INT32_MAX;
// Test knob (SetThresholdSumRunsForTest): a sum or avg group's runs applied as one.
bool sum_runs = true;

// The sums of a group's window.
struct WindowSum {
  double value = 0;
  uint64_t count = 0;
  bool any = false;
  void Add(double v, uint32_t n, Aggregate a) {
    if (n == 0) return;
    count += n;
    value = a == Aggregate::kMax ? (any ? std::max(value, v) : v) : value + v;
    any = true;
  }
};

template <typename Group>
class ThresholdDetector : public Detector {
 public:
  static constexpr bool kCompact = std::is_same_v<Group, AggGroup>;
  using Cell = std::conditional_t<kCompact, AggCell, CountCell>;
  using Table = GroupTable<Group>;

  ThresholdDetector(const RuleSpec* spec, const DetectorEnv& env, ThresholdParams p)
      : Detector(spec, env), p_(p), table_(env.max_groups) {
    layout_ = MakeLayout(p_.window_ms, env.allowed_lateness_ms, kSlots);
    lateness_ms_ = layout_.lateness_ms;
    if (p_.field >= 0) {
      value_source_ = ValueSource::kField;
      value_field_ = p_.field;
    }
    // Counts and maxima of a bucket come out the same for a run of updates
    // merged by the engine; float sums would round differently.
    if (p_.aggregate == Aggregate::kCount || p_.aggregate == Aggregate::kMax) {
      merge_ = p_.aggregate == Aggregate::kMax ? Merge::kMax : Merge::kCount;
      merge_bucket_ms_ = layout_.bucket_ms;
    } else {
      // Sums take runs with their values (AddValues: added one by one).
      value_runs_ = true;
      merge_bucket_ms_ = layout_.bucket_ms;
    }
  }

  void Apply(size_t shard, const Update* u, size_t n, const Batch& batch,
             std::vector<SampleCandidate>* samples) override {
    auto& s = table_.shard(shard);
    std::lock_guard<ShardMutex> lock(s.mu);
    typename Table::Cursor cursor;
    BucketOfTime bucket_of(layout_.bucket_ms);
    BucketOfTime head_of(layout_.bucket_ms);
    // The wide window of the last key looked up (a busy group past 65,535
    // events a bucket gets all its shard's updates in a row); a pointer into
    // the map, valid until the next insertion or erasure.
    WideCursor wc{&wide_[shard]};
    // [i]: kFolded, u[i] was applied with an earlier update of its group
    // (SumRun); kNoRun, no run SumRun takes starts there. Empty until then.
    [[maybe_unused]] auto& folded = folded_[shard];
    if constexpr (kCompact) folded.clear();
    // Whether SumRun may take a run past other groups' updates: no eviction
    // in this call (applying a group's updates before another group's
    // changes only that order, and what the table evicts when full).
    [[maybe_unused]] const bool interleave = table_.room(s) >= n;
    for (size_t i = 0; i < n; ++i) {
      const Update& up = u[i];
      if constexpr (kCompact) {
        if (std::isnan(up.value)) continue;  // no numeric value in the field
        if (!folded.empty() && folded[i] == kFolded) continue;
      }
      bool created;
      // An aggregate group's key is its group (a value run's `key` is not: RunEntries).
      Group& g = table_.Get(s, kCompact ? up.group : up.key, &created, env_.evictions, &cursor);
      const int64_t b = bucket_of(up.ts);
      if (created) SetGroupLabels(batch, up.event, &g.labels);
      if constexpr (kCompact) {
        if (up.count > 1 && value_runs_) {
          ApplyRun(g, created, up, b, head_of, wc, samples);
          continue;
        }
        if (sum_runs_ && !created && g.first != kWide && i + 1 < n && (folded.empty() || folded[i] == 0) &&
            (interleave || u[i + 1].group == up.group) &&
            SumRun(g, u, i, n, b, head_of, interleave, samples, folded)) {
          continue;
        }
      }
      ApplyOne(g, created, up, b, head_of, wc, samples);
    }
  }

  void Evaluate(int64_t eval_ms, std::vector<GroupResult>* active) override {
    const int64_t e = FloorDiv(eval_ms, layout_.bucket_ms);
    const int64_t window_start = (e - layout_.k) * layout_.bucket_ms;
    if (spec_->group_fields.empty() && !p_.above && !seeded_) {
      // The rule's only group exists from the start, so `below` notices a
      // stream that never sends anything.
      seeded_ = true;
      auto& s = table_.shard(ShardOf(kGroupSeed));
      std::lock_guard<ShardMutex> lock(s.mu);
      bool created;
      Group& g = table_.Get(s, kGroupSeed, &created, env_.evictions);
      if (created) {
        g.last_seen = eval_ms;
        if constexpr (kCompact) {
          g.first = kWide;  // its ring starts empty
          AggWindow& w = wide_[ShardOf(kGroupSeed)][kGroupSeed];
          w.first_seen = w.last_seen = eval_ms;
        } else {
          g.first_seen = eval_ms;
        }
      }
    }
    for (size_t si = 0; si < kShards; ++si) {
      auto& s = table_.shard(si);
      std::lock_guard<ShardMutex> lock(s.mu);
      if constexpr (kCompact) SweepWide(si);
      for (auto it = s.map.begin(); it != s.map.end();) {
        Group& g = it->second;
        WindowSum sum;
        bool judged;  // first_seen <= window_start
        if constexpr (kCompact) {
          if (g.first == kWide) {
            const AggWindow& w = wide_[si].at(it->first);
            SumRing(w.ring, e, &sum);
            judged = w.first_seen <= window_start;
          } else {
            const int64_t head = FloorDiv(g.last_seen, layout_.bucket_ms);
            for (int64_t b = std::max(e - layout_.k, head - kSlots + 1); b < e && b <= head; ++b) {
              const int x = Ring::Index(b);
              sum.Add(g.v[x], g.n[x], p_.aggregate);
            }
            judged = head - g.first <= e - layout_.k;
          }
        } else {
          SumRing(g.ring, e, &sum);
          judged = g.first_seen <= window_start;
        }
        double value = sum.value;
        if (p_.aggregate == Aggregate::kAvg && sum.count > 0) value /= static_cast<double>(sum.count);
        bool holds;
        if (p_.above) {
          holds = sum.any && value > p_.limit;
          // An `above` group with nothing left in its window is forgotten.
          if (!sum.any && g.last_seen < window_start - lateness_ms_) {
            if constexpr (kCompact) {
              if (g.first == kWide) wide_[si].erase(it->first);
            }
            s.map.erase(it++);
            continue;
          }
        } else {
          holds = value < p_.limit && judged;
        }
        if (holds) {
          GroupResult r;
          r.group = it->first;
          r.labels = GroupLabels(g.labels);
          r.value = value;
          r.threshold = p_.limit;
          r.evidence = {{"window", FormatValue(static_cast<double>(p_.window_ms) / 1000) + "s"},
                        {"events_in_window", StrCat(sum.count)}};
          active->push_back(std::move(r));
        }
        ++it;
      }
    }
  }

  size_t groups() const override { return table_.size(); }
  size_t state_bytes() const override {
    size_t n = table_.bytes();
    if constexpr (kCompact) {
      for (size_t i = 0; i < kShards; ++i) {
        std::lock_guard<ShardMutex> lock(table_.shard(i).mu);
        n += wide_[i].capacity() * (sizeof(std::pair<const uint64_t, AggWindow>) + 1);
      }
    }
    return n;
  }

  // Saved state (issue 6): the bucket width (the rings are only valid with
  // it), then every group as its Window (the format of before the compact
  // aggregate groups).
  void SaveState(StateWriter& w) override {
    w.I64(layout_.bucket_ms);
    w.U8(seeded_ ? 1 : 0);
    SaveGroups(table_, w, [this](StateWriter& out, uint64_t key, const Group& g) {
      if constexpr (kCompact) {
        const AggWindow x = g.first == kWide ? wide_[ShardOf(key)].at(key) : ToWindow(g);
        SaveWindow(out, x);
      } else {
        SaveWindow(out, g);
      }
      SaveLabels(out, g.labels);
    });
  }
  bool LoadState(StateReader& r) override {
    int64_t bucket_ms;
    uint8_t seeded;
    if (!r.I64(&bucket_ms) || bucket_ms != layout_.bucket_ms || !r.U8(&seeded)) return false;
    std::vector<std::pair<uint64_t, AggWindow>> wide;  // of the aggregate groups that do not fit
    if (!LoadGroups(table_, r, [&](StateReader& in, uint64_t key, Group* g) {
          if constexpr (kCompact) {
            AggWindow x;
            if (!LoadWindow(in, &x)) return false;
            if (!FromWindow(x, g)) {
              g->first = kWide;
              g->last_seen = x.last_seen;
              wide.emplace_back(key, x);
            }
          } else {
            if (!LoadWindow(in, g)) return false;
          }
          return LoadLabels(in, &g->labels);
        })) {
      return false;
    }
    if constexpr (kCompact) {
      for (auto& [key, x] : wide) {
        auto& s = table_.shard(ShardOf(key));
        std::lock_guard<ShardMutex> lock(s.mu);
        wide_[ShardOf(key)][key] = x;  // a group evicted meanwhile: swept by Evaluate
      }
    }
    seeded_ = seeded != 0;
    return true;
  }

 private:
  template <typename W>
  static void SaveWindow(StateWriter& out, const W& w) {
    out.Pod(w.ring);
    out.I64(w.first_seen);
    out.I64(w.last_seen);
  }
  template <typename W>
  static bool LoadWindow(StateReader& in, W* w) {
    return in.Pod(&w->ring) && in.I64(&w->first_seen) && in.I64(&w->last_seen);
  }

  struct NoWide {};
  // The wide window of the last key looked up in a shard's wide map (a busy
  // group past 65,535 events a bucket gets all its shard's updates in a
  // row); a pointer into the map, valid until the next insertion or erasure.
  struct WideCursor {
    std::conditional_t<kCompact, absl::flat_hash_map<uint64_t, AggWindow>, NoWide>* wide;
    AggWindow* w = nullptr;
    uint64_t key = 0;
    AggWindow* Of(uint64_t k) {
      if constexpr (kCompact) {
        if (!w || key != k) {
          w = &(*wide)[k];
          key = k;
        }
      }
      return w;
    }
  };

  // One update (a single event, or a run the engine merged) applied to its
  // group `g` (just `created` or not), bucket b.
  void ApplyOne(Group& g, bool created, const Update& up, int64_t b, BucketOfTime& head_of, WideCursor& wc,
                std::vector<SampleCandidate>* samples) {
    if constexpr (kCompact) {
      AggWindow* w;
      if (created) {
        // A wide window left by an evicted group of this key.
        if (!wc.wide->empty() && wc.wide->erase(up.group)) wc.w = nullptr;
        if (CompactCreate(g, up, b, samples)) return;
        g.first = kWide;
        w = wc.Of(up.group);
        *w = AggWindow{};
        w->first_seen = up.ts;
      } else if (g.first != kWide) {
        if (CompactAdd(g, up, b, head_of, samples)) return;
        w = wc.Of(up.group);
        *w = ToWindow(g);
        g.first = kWide;
      } else {
        w = wc.Of(up.group);
      }
      AddExact(*w, up, b, samples);
      g.last_seen = w->last_seen;
    } else {
      (void)head_of;
      (void)wc;
      if (created) g.first_seen = up.ts;
      AddExact(g, up, b, samples);
    }
  }

  // A value run (Detector::value_runs(): up.count > 1, its events at
  // RunEntries(up)) applied to its group: as one when the group's form takes
  // the whole run (the cell adds the values one by one, AddValues), else
  // event by event as the engine's per-match updates would come.
  void ApplyRun(AggGroup& g, bool created, const Update& up, int64_t b, BucketOfTime& head_of, WideCursor& wc,
                std::vector<SampleCandidate>* samples) {
    const RunEntry* v = RunEntries(up);
    if (created) {
      if (!wc.wide->empty() && wc.wide->erase(up.group)) wc.w = nullptr;
      if (CompactCreate(g, up, b, samples, v)) return;
    } else if (g.first != kWide) {
      if (CompactAdd(g, up, b, head_of, samples, v)) return;
    } else {
      AggWindow* w = wc.Of(up.group);
      AddExact(*w, up, b, samples, v);
      g.last_seen = w->last_seen;
      return;
    }
    for (uint32_t k = 0; k < up.count; ++k) {
      ApplyOne(g, created && k == 0, Update{v[k].event, 1, up.group, up.group, v[k].ts, v[k].value, v[k].ts}, b,
               head_of, wc, samples);
    }
  }

  // A cell's value after adding an update's value to it (`n` events so
  // far), or a value run's `run` (its up.count values) one by one, as its
  // events' updates would.
  float AddValues(float v, uint32_t n, const Update& up, const RunEntry* run) const {
    if (!run) return CellValue(v, n, up.value);
    if (p_.aggregate != Aggregate::kMax) {
      // A sum's cell adds a value as float(double(v) + x). Where x is a float
      // too, that is the float addition v + float(x): the double sum of two
      // floats, rounded to float, is the correctly rounded float sum (53 >=
      // 2 * 24 + 2 bits: double rounding is innocuous), the sign of a zero,
      // infinities and overflow alike. The float addition alone is the run's
      // dependency chain (4 cycles a value, not ~14 through the conversions):
      // ThresholdDetector<AggGroup>::Apply ~0.7% of sluice's samples in the
      // 30-rule run, ~70% of it on that chain (event.duration_ms sums and
      // averages, integers: floats).
      uint32_t k = 0;
      if (n == 0) v = static_cast<float>(run[k++].value);
      for (; k < up.count; ++k) {
        const double x = run[k].value;
        const float xf = static_cast<float>(x);
        v = static_cast<double>(xf) == x ? v + xf : static_cast<float>(static_cast<double>(v) + x);
      }
      return v;
    }
    for (uint32_t k = 0; k < up.count; ++k) v = CellValue(v, n + k, run[k].value);
    return v;
  }

  template <typename R>
  void SumRing(const R& ring, int64_t e, WindowSum* sum) const {
    for (int64_t b = e - layout_.k; b < e; ++b) {
      const auto* c = ring.Get(b);
      if (!c) continue;
      if constexpr (std::is_same_v<std::decay_t<decltype(*c)>, CountCell>) {
        sum->Add(c->n, c->n, p_.aggregate);
      } else {
        sum->Add(c->v, c->n, p_.aggregate);
      }
    }
  }

  // Adds one update (its bucket b) to a group's window: the engine's merged
  // runs (Update::count > 1) lie in one bucket, ts <= ts_last; with `run`, a
  // value run's values (ApplyRun).
  template <typename W>
  void AddExact(W& g, const Update& up, int64_t b, std::vector<SampleCandidate>* samples,
                const RunEntry* run = nullptr) {
    if (up.ts_last > g.last_seen) g.last_seen = up.ts_last;
    if (up.ts < g.first_seen) g.first_seen = up.ts;
    auto* c = g.ring.At(b);
    if (!c) {
      env_.late_events->Inc(up.count);
      return;
    }
    // The first event of each bucket of a group is a sample candidate.
    if (c->n == 0) samples->push_back({up.group, up.event});
    if constexpr (!std::is_same_v<std::decay_t<decltype(*c)>, CountCell>) {
      c->v = AddValues(c->v, c->n, up, run);
    }
    c->n += up.count;
  }
  // A cell's value after adding `x` to it (`n` events so far). kMax: the
  // float of a run's maximum is what the run's updates one by one leave
  // (rounding is monotonic). Sums are never merged (value runs: AddValues).
  float CellValue(float v, uint32_t n, double x) const {
    if (n == 0) return static_cast<float>(x);
    if (p_.aggregate != Aggregate::kMax) return static_cast<float>(v + x);
    return x > v ? static_cast<float>(x) : v;
  }

  // A sum or avg rule's run of updates of one existing compact group from
  // u[i] on, in one bucket b and in time order (consecutive, or past other
  // groups' updates if `interleave`), applied as one (Update::count, the
  // values' sum) when that leaves exactly what applying them one by one
  // would: every value an integer in [0, 2^24] (NaN ones skipped, as Apply
  // skips them), and the cell an integer with every partial sum within
  // +-2^24, so that no float addition of the run rounds. Returns whether it
  // applied the run, whose updates after u[i] are then marked kFolded in
  // `folded`; if not, nothing changed (the caller applies u[i] alone) and
  // the run's updates are marked kNoRun (a run from there fails alike). The
  // engine does not merge these rules' updates (Detector::merge() kNo).
  bool SumRun(AggGroup& g, const Update* u, size_t i, size_t n, int64_t b, BucketOfTime& head_of, bool interleave,
              std::vector<SampleCandidate>* samples, std::vector<uint8_t>& folded) {
    const Update& first = u[i];
    if (!ExactSumValue(first.value)) return false;
    const int64_t bucket_end = (b + 1) * layout_.bucket_ms;  // b of an update CompactTimes takes
    double sum = first.value;
    uint32_t count = 1;
    int64_t ts_last = first.ts;
    size_t last = i;  // the run's last update
    uint32_t others = 0;
    for (size_t j = i + 1; j < n; ++j) {
      const Update& x = u[j];
      if (x.group != first.group) {
        // Past a few of other groups' updates in a row at most (a shard's
        // list of many groups would make this quadratic).
        if (!interleave || ++others > kRunGap) break;
        continue;
      }
      others = 0;
      if (x.count > 1 || x.ts < ts_last || x.ts >= bucket_end) break;  // a value run: applied by itself
      if (std::isnan(x.value)) continue;
      if (!ExactSumValue(x.value) || sum + x.value > kExactSum) break;
      sum += x.value;
      ++count;
      ts_last = x.ts;
      last = j;
    }
    if (count < 2) return false;
    bool ok = CompactTimes(first, b);
    // The cell the run adds to, as CompactAdd finds it (late: the value is
    // not added).
    const int64_t head = head_of(g.last_seen);
    if (ok && b > head - kSlots && b <= head) {
      const int x = Ring::Index(b);
      const double v = g.v[x];
      ok = g.n[x] == 0 || (v == std::floor(v) && std::fabs(v) <= kExactSum && v + sum <= kExactSum);
    }
    ok = ok && CompactAdd(g, Update{first.event, count, first.group, first.key, first.ts, sum, ts_last}, b, head_of,
                          samples);
    if (folded.empty()) folded.assign(n, 0);
    for (size_t j = i + 1; j <= last; ++j) {
      if (u[j].group == first.group && !std::isnan(u[j].value)) folded[j] = ok ? kFolded : kNoRun;
    }
    return ok;
  }
  static constexpr uint8_t kFolded = 1, kNoRun = 2;
  static constexpr uint32_t kRunGap = 8;  // other groups' updates in a row SumRun goes past
  // An integer in [0, 2^24]: what a float cell adds without rounding.
  static constexpr double kExactSum = 16777216.0;
  static bool ExactSumValue(double x) {
    return x >= 0 && x <= kExactSum && x == static_cast<double>(static_cast<uint32_t>(x));
  }

  // Whether an update is in the range the compact form handles.
  bool CompactTimes(const Update& up, int64_t b) const {
    return up.ts >= 0 && up.ts_last < INT64_MAX / 4 && up.ts_last - b * layout_.bucket_ms < layout_.bucket_ms;
  }
  int64_t CeilBucket(int64_t ts, int64_t b) const { return b + (ts != b * layout_.bucket_ms ? 1 : 0); }

  // A new group's first update, if its group fits the compact form.
  bool CompactCreate(AggGroup& g, const Update& up, int64_t b, std::vector<SampleCandidate>* samples,
                     const RunEntry* run = nullptr) const {
    if (!CompactTimes(up, b) || up.count > max_n_) return false;
    g.last_seen = up.ts_last;
    g.first = static_cast<int32_t>(b - CeilBucket(up.ts, b));
    const int x = Ring::Index(b);
    g.v[x] = AddValues(0, 0, up, run);
    g.n[x] = static_cast<uint16_t>(up.count);
    samples->push_back({up.group, up.event});
    return true;
  }

  // AddExact for a compact group, if the result fits it; false (the group
  // unchanged) if not.
  bool CompactAdd(AggGroup& g, const Update& up, int64_t b, BucketOfTime& head_of,
                  std::vector<SampleCandidate>* samples, const RunEntry* run = nullptr) {
    if (!CompactTimes(up, b)) return false;
    const int64_t head = head_of(g.last_seen);
    const int64_t first = std::min(head - g.first, CeilBucket(up.ts, b));
    const int64_t new_head = std::max(head, b);
    if (new_head - first > max_first_) return false;
    const bool late = b <= head - kSlots;
    const int x = Ring::Index(b);
    const uint32_t before = b > head ? 0 : g.n[x];
    if (!late && before + up.count > max_n_) return false;
    if (b > head) {
      if (b - head >= kSlots) {
        std::fill(std::begin(g.v), std::end(g.v), 0.0f);
        std::fill(std::begin(g.n), std::end(g.n), uint16_t{0});
      } else {
        for (int64_t j = head + 1; j <= b; ++j) {
          g.v[Ring::Index(j)] = 0;
          g.n[Ring::Index(j)] = 0;
        }
      }
    }
    if (up.ts_last > g.last_seen) g.last_seen = up.ts_last;
    g.first = static_cast<int32_t>(new_head - first);
    if (late) {
      env_.late_events->Inc(up.count);
      return true;
    }
    if (before == 0) samples->push_back({up.group, up.event});
    g.v[x] = AddValues(g.v[x], before, up, run);
    g.n[x] = static_cast<uint16_t>(before + up.count);
    return true;
  }

  // A compact group as its Window (first_seen: the start of its bucket).
  AggWindow ToWindow(const AggGroup& g) const {
    AggWindow w;
    const int64_t head = FloorDiv(g.last_seen, layout_.bucket_ms);
    w.ring.head = head;
    for (int i = 0; i < kSlots; ++i) w.ring.slot[i] = AggCell{g.n[i] ? g.v[i] : 0.0f, g.n[i]};
    w.first_seen = (head - g.first) * layout_.bucket_ms;
    w.last_seen = g.last_seen;
    return w;
  }
  // The compact form of a window, if it fits (else false, *g unchanged).
  bool FromWindow(const AggWindow& w, AggGroup* g) const {
    const int64_t bms = layout_.bucket_ms;
    if (w.ring.head == INT64_MIN || w.last_seen < 0 || w.last_seen >= INT64_MAX / 4 || w.first_seen < 0 ||
        FloorDiv(w.last_seen, bms) != w.ring.head) {
      return false;
    }
    const int64_t first_bucket = FloorDiv(w.first_seen, bms) + (w.first_seen % bms != 0 ? 1 : 0);
    const int64_t off = w.ring.head - first_bucket;
    if (off < -1 || off > max_first_) return false;
    for (const AggCell& c : w.ring.slot) {
      if (c.n > max_n_) return false;
    }
    for (int i = 0; i < kSlots; ++i) {
      g->v[i] = w.ring.slot[i].v;
      g->n[i] = static_cast<uint16_t>(w.ring.slot[i].n);
    }
    g->last_seen = w.last_seen;
    g->first = static_cast<int32_t>(off);
    return true;
  }
  // Wide windows of groups evicted since (GroupTable::Get drops them unseen).
  void SweepWide(size_t si) {
    auto& wide = wide_[si];
    auto& map = table_.shard(si).map;
    for (auto w = wide.begin(); w != wide.end();) {
      auto it = map.find(w->first);
      if (it == map.end() || it->second.first != kWide) {
        wide.erase(w++);
      } else {
        ++w;
      }
    }
  }

  ThresholdParams p_;
  WindowLayout layout_;
  Table table_;
  bool seeded_ = false;
  const bool sum_runs_ = sum_runs && (p_.aggregate == Aggregate::kSum || p_.aggregate == Aggregate::kAvg);
  const uint32_t max_n_ = compact_max_n;        // the most a compact cell counts
  const int64_t max_first_ = compact_max_first;  // the largest offset of first_seen it keeps
  // [shard]: the windows of the aggregate groups flagged kWide, under the shard's lock.
  mutable std::conditional_t<kCompact, absl::flat_hash_map<uint64_t, AggWindow>, NoWide> wide_[kShards];
  // [shard]: Apply's marks of the updates SumRun took, under the shard's lock.
  std::conditional_t<kCompact, std::vector<uint8_t>, NoWide> folded_[kShards];
};

}  // namespace

void SetThresholdCompactLimitsForTest(uint32_t max_n, int32_t max_first) {
  compact_max_n = std::min<uint32_t>(max_n, 0xFFFF);
  compact_max_first = std::max<int32_t>(max_first, 0);
}

void SetThresholdSumRunsForTest(bool on) { sum_runs = on; }

std::unique_ptr<Detector> NewThresholdDetector(ConfigMap& cfg, const RuleSpec* spec, const DetectorEnv& env) {
  ThresholdParams p;
  size_t errors_before = cfg.errors()->list().size();
  p.window_ms = RequiredDurationMs(cfg, "window");
  bool has_above = cfg.Has("above"), has_below = cfg.Has("below");
  if (has_above == has_below) {
    cfg.Error(has_above ? "below" : "window", "exactly one of `above` and `below` is required");
  }
  const double inf = std::numeric_limits<double>::infinity();
  double above = cfg.Double("above", 0, -inf, inf);
  double below = cfg.Double("below", 0, -inf, inf);
  p.above = has_above;
  p.limit = has_above ? above : below;
  p.field = OptionalField(cfg, "field", env.fields);
  std::string agg = cfg.Enum("aggregate", p.field >= 0 ? "sum" : "count", {"count", "sum", "max", "avg"});
  if (cfg.Has("aggregate") && p.field < 0 && agg != "count") cfg.Error("aggregate", "needs a `field` to aggregate");
  if (p.field >= 0 && agg == "count") cfg.Error("aggregate", "with a `field`, use sum, max or avg");
  p.aggregate = agg == "sum" ? Aggregate::kSum : agg == "max" ? Aggregate::kMax : agg == "avg" ? Aggregate::kAvg
                                                                                                : Aggregate::kCount;
  if (cfg.errors()->list().size() != errors_before) return nullptr;
  if (p.field >= 0) return std::make_unique<ThresholdDetector<AggGroup>>(spec, env, p);
  return std::make_unique<ThresholdDetector<CountGroup>>(spec, env, p);
}

SLUICE_REGISTER_DETECTOR("threshold", NewThresholdDetector);

}  // namespace sluice::detectors
