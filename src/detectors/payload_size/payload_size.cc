#include "detectors/payload_size/payload_size.h"

#include <cmath>
#include <limits>

#include "absl/container/flat_hash_map.h"
#include "common/strings.h"
#include "detectors/common/group_state.h"
#include "detectors/common/label_template.h"

namespace sluice::detectors {

namespace {

struct PayloadParams {
  int field = -1;
  double factor = 5;
  uint32_t min_samples = 30;
  int64_t window_ms = 300'000;
};

// What an update changes (Apply keeps it in registers over a run of one group's updates).
struct PayloadState {
  RobustStats stats;
  int64_t last_seen = 0;
  int64_t last_outlier = INT64_MIN;
  double outlier_value = 0, outlier_limit = 0;
  uint32_t outliers = 0;  // in the current active period
};

struct PayloadGroup : PayloadState {
  CompactString labels;  // group label values, \0-separated
};
static_assert(sizeof(PayloadGroup) == 80);

// Test knobs (SetPayloadSizeRunsForTest, SetPayloadSizeLanesForTest).
bool payload_runs = true;
bool payload_lanes = true;

// L estimators stepped side by side over their entries e[i][0, m), up to
// the first round where one lane's value is above its limit: the rounds done.
// Each lane as AddSteadyRun: Limit, the newest time, AddSteady.
template <int L>
size_t LockstepRounds(RobustStats* st, int64_t* seen, const RunEntry* const* e, size_t m, double factor) {
  size_t r = 0;
  for (; r < m; ++r) {
    bool outlier = false;
#pragma GCC unroll 4
    for (int i = 0; i < L; ++i) outlier |= e[i][r].value > st[i].Limit(factor);
    if (outlier) break;
#pragma GCC unroll 4
    for (int i = 0; i < L; ++i) {
      if (e[i][r].ts > seen[i]) seen[i] = e[i][r].ts;
      st[i].AddSteady(e[i][r].value);
    }
  }
  return r;
}

#if defined(__AVX2__)
// LockstepRounds<4> with the four estimators in the lanes of AVX2 registers:
// RobustStats::SignStep's operations, each the same IEEE operation on each
// lane (no fused multiply-add: SignStep's products are each used by more
// than an addition, and the compiler keeps them apart; payload_lanes_test
// compares the bits with the scalar path). Scalar, the four lanes' ~55
// instructions per value spilled the 16 registers to the stack (4 x median,
// mad and 9 constants): PayloadSizeDetector 1.67% of sluice's samples.
// The judgement is conservative: a lane is called an outlier when its value
// is above Limit computed either with or without a fused multiply-add (the
// scalar Limit's `median + factor * scale` may be contracted), and the
// caller then steps it by Step, which judges it exactly.
size_t LockstepRounds4(RobustStats* st, int64_t* seen, const RunEntry* const* e, size_t m, double factor) {
  __m256d med = _mm256_set_pd(st[3].median, st[2].median, st[1].median, st[0].median);
  __m256d mad = _mm256_set_pd(st[3].mad, st[2].mad, st[1].mad, st[0].mad);
  __m256i newest = _mm256_set_epi64x(seen[3], seen[2], seen[1], seen[0]);
  const __m256d abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(INT64_MAX));
  const __m256d sign = _mm256_set1_pd(-0.0), zero = _mm256_setzero_pd();
  const __m256d tiny = _mm256_set1_pd(1e-9), milli = _mm256_set1_pd(1e-3), k_step = _mm256_set1_pd(RobustStats::kStep);
  const __m256d k_mad = _mm256_set1_pd(1.4826), k_median = _mm256_set1_pd(0.05), fac = _mm256_set1_pd(factor);
  size_t r = 0;
  for (; r < m; ++r) {
    const __m256d x = _mm256_set_pd(e[3][r].value, e[2][r].value, e[1][r].value, e[0][r].value);
    // Limit: std::max({1.4826 mad, 0.05 |median|, 1e-9}) (the first of equals kept), median + factor x that.
    const __m256d a = _mm256_mul_pd(k_mad, mad);
    const __m256d b = _mm256_mul_pd(k_median, _mm256_and_pd(med, abs_mask));
    __m256d big = _mm256_blendv_pd(a, b, _mm256_cmp_pd(a, b, _CMP_LT_OQ));
    big = _mm256_blendv_pd(big, tiny, _mm256_cmp_pd(big, tiny, _CMP_LT_OQ));
    __m256d above = _mm256_cmp_pd(x, _mm256_add_pd(med, _mm256_mul_pd(fac, big)), _CMP_GT_OQ);
#if defined(__FMA__)
    above = _mm256_or_pd(above, _mm256_cmp_pd(x, _mm256_fmadd_pd(fac, big, med), _CMP_GT_OQ));
#endif
    if (_mm256_movemask_pd(above)) break;
    const __m256i ts = _mm256_set_epi64x(e[3][r].ts, e[2][r].ts, e[1][r].ts, e[0][r].ts);
    newest = _mm256_blendv_epi8(newest, ts, _mm256_cmpgt_epi64(ts, newest));
    // SignStep.
    const __m256d mm = _mm256_mul_pd(_mm256_and_pd(med, abs_mask), milli);
    const __m256d floor = _mm256_blendv_pd(tiny, mm, _mm256_cmp_pd(mm, tiny, _CMP_GE_OQ));
    const __m256d scale = _mm256_blendv_pd(mad, floor, _mm256_cmp_pd(mad, floor, _CMP_LT_OQ));
    const __m256d step = _mm256_mul_pd(k_step, scale);
    const __m256d sel = _mm256_or_pd(_mm256_and_pd(_mm256_cmp_pd(x, med, _CMP_GT_OQ), step),
                                     _mm256_and_pd(_mm256_cmp_pd(x, med, _CMP_LT_OQ), _mm256_xor_pd(step, sign)));
    med = _mm256_add_pd(med, sel);
    const __m256d dev = _mm256_and_pd(_mm256_sub_pd(x, med), abs_mask);
    __m256d up = _mm256_add_pd(mad, step), down = _mm256_sub_pd(mad, step);
    up = _mm256_blendv_pd(up, zero, _mm256_cmp_pd(up, zero, _CMP_LT_OQ));
    down = _mm256_blendv_pd(down, zero, _mm256_cmp_pd(down, zero, _CMP_LT_OQ));
    mad = _mm256_blendv_pd(down, up, _mm256_cmp_pd(dev, mad, _CMP_GT_OQ));
  }
  alignas(32) double meds[4], mads[4];
  alignas(32) int64_t ts[4];
  _mm256_store_pd(meds, med);
  _mm256_store_pd(mads, mad);
  _mm256_store_si256(reinterpret_cast<__m256i*>(ts), newest);
  for (int i = 0; i < 4; ++i) {
    st[i].median = meds[i];
    st[i].mad = mads[i];
    st[i].n += static_cast<uint32_t>(r);
    seen[i] = ts[i];
  }
  return r;
}
#endif

class PayloadSizeDetector : public Detector {
 public:
  PayloadSizeDetector(const RuleSpec* spec, const DetectorEnv& env, PayloadParams p)
      : Detector(spec, env), p_(p), table_(env.max_groups) {
    lateness_ms_ = env.allowed_lateness_ms;
    if (p_.field >= 0) {
      value_source_ = ValueSource::kField;
      value_field_ = p_.field;
    } else {
      value_source_ = ValueSource::kEventBytes;
    }
    // A chunk's matches of a group with their values and times (RunEntries):
    // any run, the state has no buckets (one of 2^62 ms for the engine's test).
    value_runs_ = true;
    merge_bucket_ms_ = int64_t{1} << 62;
  }

  void Apply(size_t shard, const Update* u, size_t n, const Batch& batch,
             std::vector<SampleCandidate>* samples) override {
    auto& s = table_.shard(shard);
    std::lock_guard<ShardMutex> lock(s.mu);
    ApplyLocked(s, u, n, batch, samples);
  }

  void ApplyShards(const std::vector<Update>* lists, const Batch& batch,
                   std::vector<SampleCandidate>* samples) override;

  // Apply's work, `s` locked by the caller.
  void ApplyLocked(GroupTable<PayloadGroup>::Shard& s, const Update* u, size_t n, const Batch& batch,
                   std::vector<SampleCandidate>* samples) {
    GroupTable<PayloadGroup>::Cursor cursor;
    for (size_t i = 0; i < n;) {
      const Update& up = u[i];
      if (std::isnan(up.value)) {
        ++i;
        continue;
      }
      bool created;
      // The key is the group (a value run's `key` is its entries).
      PayloadGroup& g = table_.Get(s, up.group, &created, env_.evictions, &cursor);
      if (created) SetGroupLabels(batch, up.event, &g.labels);
      if (up.count == 1 && (!runs_ || i + 1 == n || u[i + 1].group != up.group)) {
        Step(g, up.value, up.ts, up.event, up.group, samples);  // a run of one: no copies in and out
        ++i;
        continue;
      }
      // The run of this group's updates from u[i] on (most of a shard's list
      // in the 30-rule set's UnusualEventSize and UnusualEventSizePerFile:
      // detectors_bench BM_ThirtyRulesStream), and the engine's value runs
      // (up.count > 1, RunEntries), the state in registers: the same steps
      // in the same order as update by update.
      PayloadState st = g;
      size_t j = i;
      do {
        const Update& x = u[j];
        if (x.count > 1) {
          const RunEntry* e = RunEntries(x);
          for (size_t k = 0; k < x.count; ++k) {
            // Past the warm values and min_samples, the values up to the first
            // outlier without the rest of Step (AddSteadyRun); the outlier by Step.
            if (st.stats.n >= steady_from_) {
              k = AddSteadyRun(st.stats, e, k, x.count, p_.factor, &st.last_seen);
              if (k == x.count) break;
            }
            Step(st, e[k].value, e[k].ts, e[k].event, x.group, samples);
          }
        } else if (!std::isnan(x.value)) {
          Step(st, x.value, x.ts, x.event, x.group, samples);
        }
      } while (++j < n && runs_ && u[j].group == up.group);
      static_cast<PayloadState&>(g) = st;
      i = j;
    }
  }

  void Evaluate(int64_t eval_ms, std::vector<GroupResult>* active) override {
    for (size_t si = 0; si < kShards; ++si) {
      auto& s = table_.shard(si);
      std::lock_guard<ShardMutex> lock(s.mu);
      for (auto& [key, g] : s.map) {
        if (g.last_outlier == INT64_MIN || g.last_outlier < eval_ms - p_.window_ms) continue;
        GroupResult r;
        r.group = key;
        r.labels = GroupLabels(g.labels);
        r.value = g.outlier_value;
        r.threshold = g.outlier_limit;
        r.evidence = {{"median", FormatValue(g.stats.median)},
                      {"mad", FormatValue(g.stats.mad)},
                      {"outliers", StrCat(g.outliers)},
                      {"samples_seen", StrCat(g.stats.n)}};
        active->push_back(std::move(r));
      }
    }
  }

  size_t groups() const override { return table_.size(); }
  size_t state_bytes() const override { return table_.bytes(); }

  // Saved state (issue 6): every group's estimator and current outliers.
  void SaveState(StateWriter& w) override {
    SaveGroups(table_, w, [](StateWriter& out, const PayloadGroup& g) {
      out.Pod(g.stats);
      out.I64(g.last_seen);
      out.I64(g.last_outlier);
      out.F64(g.outlier_value);
      out.F64(g.outlier_limit);
      out.U32(g.outliers);
      SaveLabels(out, g.labels);
    });
  }
  bool LoadState(StateReader& r) override {
    return LoadGroups(table_, r, [](StateReader& in, PayloadGroup* g) {
      return in.Pod(&g->stats) && in.I64(&g->last_seen) && in.I64(&g->last_outlier) && in.F64(&g->outlier_value) &&
             in.F64(&g->outlier_limit) && in.U32(&g->outliers) && LoadLabels(in, &g->labels);
    });
  }

 private:
  // One event's number (`value`, time `ts`) applied to a group's state:
  // judged against the group's values so far, then added to them.
  __attribute__((always_inline)) void Step(PayloadState& g, double value, int64_t ts, uint32_t event,
                                           uint64_t group, std::vector<SampleCandidate>* samples) const {
    if (ts > g.last_seen) g.last_seen = ts;
    if (g.stats.n >= p_.min_samples) {
      double limit = g.stats.Limit(p_.factor);
      if (value > limit) {
        if (g.last_outlier == INT64_MIN || ts > g.last_outlier + p_.window_ms) {
          g.outlier_value = value;
          g.outliers = 0;
        } else {
          g.outlier_value = std::max(g.outlier_value, value);
        }
        ++g.outliers;
        g.outlier_limit = limit;
        g.last_outlier = std::max(g.last_outlier, ts);
        samples->push_back({group, event});
      }
    }
    g.stats.Add(value);
  }

  // A group's updates of one ApplyShards call, stepped in lockstep with other
  // groups' (a lane).
  struct Lane {
    PayloadState st;
    PayloadGroup* g;
    const Update* u;                    // the group's shard's list
    const uint32_t *next, *last;        // indexes in `u` of the group's updates still to start
    uint32_t shard, j;                  // j: the update being applied
    const RunEntry* e = nullptr;        // its entries (a value run), e[k..count) still to apply
    uint32_t k = 0, count = 0;
  };
  // A sample with where its value was in the lists (shard, update, entry):
  // sorted, the order of Apply shard by shard.
  struct TaggedSample {
    uint32_t shard, j, k;
    SampleCandidate c;
  };
  bool Advance(Lane& l, std::vector<TaggedSample>* tagged) const;
  template <int L>
  __attribute__((noinline)) void Lockstep(Lane* const* lanes, std::vector<TaggedSample>* tagged) const;
  void StepTagged(Lane& l, double value, int64_t ts, uint32_t event, uint32_t k,
                  std::vector<TaggedSample>* tagged) const;

  PayloadParams p_;
  // From this many values on, Step's judgement and Add are AddSteadyRun's.
  const uint32_t steady_from_ = std::max(p_.min_samples, RobustStats::kWarmValues);
  GroupTable<PayloadGroup> table_;
  const bool runs_ = payload_runs;
  const bool lanes_ = payload_lanes && payload_runs;
  // ApplyShards' lanes when the value runs hold this many values on average.
  static constexpr size_t kMinRunValues = 8;
};

void PayloadSizeDetector::StepTagged(Lane& l, double value, int64_t ts, uint32_t event, uint32_t k,
                                     std::vector<TaggedSample>* tagged) const {
  thread_local std::vector<SampleCandidate> one;
  one.clear();
  Step(l.st, value, ts, event, l.u[l.j].group, &one);
  for (const SampleCandidate& c : one) tagged->push_back({l.shard, l.j, k, c});
}

// Applies the lane's values by Step until it stands at a value AddSteadyRun
// would take (a value run's entry, the estimator steady): true; false when
// the group's updates are all applied.
bool PayloadSizeDetector::Advance(Lane& l, std::vector<TaggedSample>* tagged) const {
  for (;;) {
    if (l.k < l.count) {
      if (l.st.stats.n >= steady_from_ && l.st.stats.n < UINT32_MAX - 1) return true;
      const RunEntry& x = l.e[l.k];
      StepTagged(l, x.value, x.ts, x.event, l.k, tagged);
      ++l.k;
      continue;
    }
    if (l.next == l.last) return false;
    l.j = *l.next++;
    const Update& x = l.u[l.j];
    if (x.count > 1) {
      l.e = RunEntries(x);
      l.k = 0;
      l.count = x.count;
    } else {
      l.k = l.count = 0;
      StepTagged(l, x.value, x.ts, x.event, 0, tagged);  // (NaN values were left out of the lane)
    }
  }
}

// L lanes standing at steady values (Advance) stepped value by value in
// lockstep, up to the end of the shortest one's entries or a round where a
// lane's value is above its limit; that round's values then by Step. Each
// estimator is its own dependency chain of ~25 cycles per value (max, mul,
// add, sub, compare, select): one group at a time left the core waiting
// (PayloadSizeDetector::Apply 3.4% of sluice's samples in the 30-rule run,
// ~91 instructions per event); L chains side by side overlap. Each lane's
// values go through the same AddSteady and Limit, in its own order: the same
// bits (tests/detectors/payload_lanes_test.cc).
template <int L>
void PayloadSizeDetector::Lockstep(Lane* const* lanes, std::vector<TaggedSample>* tagged) const {
  RobustStats st[L];
  int64_t seen[L];
  const RunEntry* e[L];
  size_t m = SIZE_MAX;
#pragma GCC unroll 4
  for (int i = 0; i < L; ++i) {
    const Lane& l = *lanes[i];
    st[i] = l.st.stats;
    seen[i] = l.st.last_seen;
    e[i] = l.e + l.k;
    m = std::min<size_t>(m, std::min<size_t>(l.count - l.k, UINT32_MAX - 1 - st[i].n));
  }
  const double factor = p_.factor;
  size_t r;
#if defined(__AVX2__)
  if constexpr (L == 4) {
    r = LockstepRounds4(st, seen, e, m, factor);
  } else
#endif
  {
    r = LockstepRounds<L>(st, seen, e, m, factor);
  }
#pragma GCC unroll 4
  for (int i = 0; i < L; ++i) {
    Lane& l = *lanes[i];
    l.st.stats = st[i];
    l.st.last_seen = seen[i];
    l.k += static_cast<uint32_t>(r);
  }
  if (r == m) return;
  // A round with an outlier (or, in LockstepRounds4, perhaps one): every
  // lane's value of that round by Step, which judges it exactly.
  for (int i = 0; i < L; ++i) {
    Lane& l = *lanes[i];
    const RunEntry& x = l.e[l.k];
    StepTagged(l, x.value, x.ts, x.event, l.k, tagged);
    ++l.k;
  }
}

void PayloadSizeDetector::ApplyShards(const std::vector<Update>* lists, const Batch& batch,
                                      std::vector<SampleCandidate>* samples) {
  // Lanes pay for runs of values (the engine's value runs of a chunk's
  // matches of a group); a list of single updates of many groups goes shard
  // by shard (detectors_bench BM_PayloadSize/10000, 10,000 groups: 40 -> 29 M
  // items/s through the lanes).
  size_t runs = 0, run_values = 0;
  if (lanes_) {
    for (size_t si = 0; si < kShards; ++si) {
      for (const Update& up : lists[si]) {
        if (up.count > 1) {
          ++runs;
          run_values += up.count;
        }
      }
    }
  }
  if (runs < 2 || run_values < kMinRunValues * runs) {
    Detector::ApplyShards(lists, batch, samples);
    return;
  }
  struct Item {
    PayloadGroup* g;
    uint64_t group;
    uint32_t shard, first, size;  // its update indexes: order[first, first + size)
  };
  thread_local std::vector<Item> items;
  thread_local std::vector<uint32_t> item_of, order;
  // A shard's items by group, once it has more than kScanItems (empty until then).
  thread_local absl::flat_hash_map<uint64_t, uint32_t> item_index;
  constexpr size_t kScanItems = 8;
  thread_local std::vector<TaggedSample> tagged;
  thread_local std::vector<SampleCandidate> plain;
  items.clear();
  order.clear();
  tagged.clear();
  std::unique_lock<ShardMutex> locks[kShards];
  for (size_t si = 0; si < kShards; ++si) {
    const std::vector<Update>& list = lists[si];
    if (list.empty()) continue;
    auto& s = table_.shard(si);
    locks[si] = std::unique_lock<ShardMutex>(s.mu);
    // The shard's groups, each with its updates in order. A group not in
    // the table yet (an insertion, which may move the others or evict one)
    // sends the whole shard through Apply's way.
    const size_t first_item = items.size();
    item_index.clear();
    item_of.resize(list.size());
    bool plain_shard = false;
    for (size_t j = 0; j < list.size(); ++j) {
      const Update& up = list[j];
      item_of[j] = UINT32_MAX;
      if (std::isnan(up.value)) continue;
      size_t it = items.size();
      if (it > first_item && items.back().group == up.group) {
        it = items.size() - 1;
      } else if (items.size() - first_item <= kScanItems) {
        for (size_t q = first_item; q < items.size(); ++q) {
          if (items[q].group == up.group) it = q;
        }
      } else {
        // Many groups in the shard: by a map rather than a scan per update.
        if (item_index.empty()) {
          for (size_t q = first_item; q < items.size(); ++q) item_index[items[q].group] = static_cast<uint32_t>(q);
        }
        auto f = item_index.find(up.group);
        if (f != item_index.end()) it = f->second;
      }
      if (it == items.size()) {
        auto found = s.map.find(up.group);
        if (found == s.map.end()) {
          plain_shard = true;
          break;
        }
        items.push_back({&found->second, up.group, static_cast<uint32_t>(si), 0, 0});
        if (!item_index.empty()) item_index[up.group] = static_cast<uint32_t>(it);
      }
      item_of[j] = static_cast<uint32_t>(it);
      ++items[it].size;
    }
    if (plain_shard) {
      items.resize(first_item);
      plain.clear();
      ApplyLocked(s, list.data(), list.size(), batch, &plain);
      for (const SampleCandidate& c : plain) tagged.push_back({static_cast<uint32_t>(si), 0, 0, c});
      continue;
    }
    uint32_t at = static_cast<uint32_t>(order.size());
    for (size_t q = first_item; q < items.size(); ++q) {
      items[q].first = at;
      at += items[q].size;
      items[q].size = 0;
    }
    order.resize(at);
    for (size_t j = 0; j < list.size(); ++j) {
      if (item_of[j] == UINT32_MAX) continue;
      Item& it = items[item_of[j]];
      order[it.first + it.size++] = static_cast<uint32_t>(j);
    }
  }

  // Up to kLanes groups at a time, each from its first update to its last.
  // lanes[0, active) are the groups being stepped; the rest, free slots.
  constexpr int kLanes = 4;
  Lane lane_store[kLanes];
  Lane* lanes[kLanes];
  for (int q = 0; q < kLanes; ++q) lanes[q] = &lane_store[q];
  int active = 0;
  size_t next_item = 0;
  auto refill = [&] {
    while (active < kLanes && next_item < items.size()) {
      const Item& it = items[next_item++];
      Lane& l = *lanes[active];
      l.st = *it.g;
      l.g = it.g;
      l.u = lists[it.shard].data();
      l.next = order.data() + it.first;
      l.last = l.next + it.size;
      l.shard = it.shard;
      l.e = nullptr;
      l.k = l.count = 0;
      if (Advance(l, &tagged)) {
        ++active;
      } else {
        static_cast<PayloadState&>(*l.g) = l.st;
      }
    }
  };
  refill();
  while (active > 0) {
    switch (active) {
      case 1: {
        Lane& l = *lanes[0];
        l.k = static_cast<uint32_t>(AddSteadyRun(l.st.stats, l.e, l.k, l.count, p_.factor, &l.st.last_seen));
        if (l.k < l.count && l.st.stats.n < UINT32_MAX - 1) {
          StepTagged(l, l.e[l.k].value, l.e[l.k].ts, l.e[l.k].event, l.k, &tagged);
          ++l.k;
        }
        break;
      }
      case 2: Lockstep<2>(lanes, &tagged); break;
      case 3: Lockstep<3>(lanes, &tagged); break;
      default: Lockstep<4>(lanes, &tagged); break;
    }
    for (int i = active; i-- > 0;) {
      if (Advance(*lanes[i], &tagged)) continue;
      static_cast<PayloadState&>(*lanes[i]->g) = lanes[i]->st;
      std::swap(lanes[i], lanes[--active]);
    }
    refill();
  }

  if (!tagged.empty()) {
    std::stable_sort(tagged.begin(), tagged.end(), [](const TaggedSample& a, const TaggedSample& b) {
      return a.shard != b.shard ? a.shard < b.shard : a.j != b.j ? a.j < b.j : a.k < b.k;
    });
    for (const TaggedSample& t : tagged) samples->push_back(t.c);
  }
}

}  // namespace

void SetPayloadSizeRunsForTest(bool on) { payload_runs = on; }
void SetPayloadSizeLanesForTest(bool on) { payload_lanes = on; }

std::unique_ptr<Detector> NewPayloadSizeDetector(ConfigMap& cfg, const RuleSpec* spec, const DetectorEnv& env) {
  PayloadParams p;
  size_t errors_before = cfg.errors()->list().size();
  p.field = OptionalField(cfg, "field", env.fields);
  p.factor = cfg.Double("factor", 5, 0.1, 1e6);
  p.min_samples = static_cast<uint32_t>(cfg.Int("min_samples", 30, 1, 1'000'000'000));
  p.window_ms = cfg.DurationMs("window", p.window_ms, 1);
  if (cfg.errors()->list().size() != errors_before) return nullptr;
  return std::make_unique<PayloadSizeDetector>(spec, env, p);
}

SLUICE_REGISTER_DETECTOR("payload_size", NewPayloadSizeDetector);

}  // namespace sluice::detectors
