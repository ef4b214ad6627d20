#include "detectors/frequency/frequency.h"

#include <cmath>
#include <limits>

#include "common/strings.h"
#include "detectors/common/group_state.h"
#include "detectors/common/label_template.h"

namespace sluice::detectors {
namespace {

constexpr int kSlots = 12;

struct FrequencyParams {
  int64_t window_ms = 0, baseline_ms = 0, warmup_ms = 0;
  double spike_factor = 0, drop_factor = 0;  // 0: not checked
  double min_count = 5;
};

// A group's bucket counts. They are 16-bit in the group: a bucket that would
// pass 65,535 events moves the group's counts to a 32-bit ring of its shard
// (FrequencyDetector::wide_, `wide` set), where they stay until the group is
// dropped. The limit is a parameter for tests (SetFrequencyNarrowLimitForTest).
using NarrowRing = BucketRing<uint16_t, kSlots>;
using WideRing = BucketRing<uint32_t, kSlots>;
uint32_t narrow_limit = 0xFFFF;

struct FrequencyGroup {
  NarrowRing ring;  // unused while `wide`
  int64_t first_seen = 0;
  int64_t last_seen = 0;
  int64_t last_step = INT64_MIN;  // newest bucket boundary folded into the baseline
  // Bias-corrected EWMA of the window count: baseline = ewma / weight.
  float ewma = 0, weight = 0;
  float base_at_step = 0;  // the baseline the newest window is judged against
  bool wide = false;       // the counts are in the shard's wide ring of this key
  CompactString labels;    // group label values, \0-separated
};

// Key + state per tracked group (tests/detectors/state_size_test.cc): was 136
// bytes with a std::string for the labels, 120 with 32-bit bucket counts.
static_assert(sizeof(std::pair<uint64_t, FrequencyGroup>) <= 96);

WideRing Widen(const NarrowRing& n) {
  WideRing w;
  w.head = n.head;
  for (int i = 0; i < kSlots; ++i) w.slot[i] = n.slot[i];
  return w;
}

class FrequencyDetector : public Detector {
 public:
  FrequencyDetector(const RuleSpec* spec, const DetectorEnv& env, FrequencyParams p)
      : Detector(spec, env), p_(p), table_(env.max_groups) {
    layout_ = MakeLayout(p_.window_ms, env.allowed_lateness_ms, kSlots);
    lateness_ms_ = layout_.lateness_ms;
    alpha_ = std::min(1.0, static_cast<double>(layout_.bucket_ms) / static_cast<double>(p_.baseline_ms));
    merge_ = Merge::kCount;
    merge_bucket_ms_ = layout_.bucket_ms;
  }

  void Apply(size_t shard, const Update* u, size_t n, const Batch& batch,
             std::vector<SampleCandidate>* samples) override {
    auto& s = table_.shard(shard);
    std::lock_guard<ShardMutex> lock(s.mu);
    auto& wide = wide_[shard];
    GroupTable<FrequencyGroup>::Cursor cursor;
    BucketOfTime bucket_of(layout_.bucket_ms);
    for (size_t i = 0; i < n; ++i) {
      const Update& up = u[i];
      bool created;
      FrequencyGroup& g = table_.Get(s, up.key, &created, env_.evictions, &cursor);
      const int64_t b = bucket_of(up.ts);
      if (created) {
        g.first_seen = up.ts;
        g.last_step = b;
        SetGroupLabels(batch, up.event, &g.labels);
        // A wide ring left by an evicted group of this key.
        if (!wide.empty()) wide.erase(up.key);
      }
      // A merged run (Update::count > 1) lies in one bucket, ts <= ts_last.
      if (up.ts_last > g.last_seen) g.last_seen = up.ts_last;
      uint32_t before = 0;
      if (!g.wide) {
        uint16_t* c = g.ring.At(b);
        if (!c) {
          env_.late_events->Inc(up.count);
          continue;
        }
        before = *c;
        if (uint64_t{before} + up.count <= limit_) {
          *c = static_cast<uint16_t>(before + up.count);
        } else {
          g.wide = true;
          wide[up.key] = Widen(g.ring);
        }
      }
      if (g.wide) {
        WideRing& w = wide[up.key];
        uint32_t* c = w.At(b);
        if (!c) {
          env_.late_events->Inc(up.count);
          continue;
        }
        before = *c;
        *c += up.count;
      }
      if (before == 0) samples->push_back({up.group, up.event});
    }
  }

  template <typename Ring>
  double WindowCount(const Ring& g, int64_t end) const {
    double n = 0;
    for (int64_t b = end - layout_.k; b < end; ++b) {
      if (const auto* c = g.Get(b)) n += *c;
    }
    return n;
  }

  void Evaluate(int64_t eval_ms, std::vector<GroupResult>* active) override {
    const int64_t e = FloorDiv(eval_ms, layout_.bucket_ms);
    for (size_t si = 0; si < kShards; ++si) {
      auto& s = table_.shard(si);
      std::lock_guard<ShardMutex> lock(s.mu);
      auto& wide = wide_[si];
      // Wide rings of groups evicted since (GroupTable::Get drops them unseen).
      for (auto w = wide.begin(); w != wide.end();) {
        auto it = s.map.find(w->first);
        if (it == s.map.end() || !it->second.wide) {
          wide.erase(w++);
        } else {
          ++w;
        }
      }
      for (auto it = s.map.begin(); it != s.map.end();) {
        FrequencyGroup& g = it->second;
        const WideRing* w = g.wide ? &wide.at(it->first) : nullptr;
        auto window_count = [&](int64_t end) { return w ? WindowCount(*w, end) : WindowCount(g.ring, end); };
        if (e > g.last_step) {
          // Fold every bucket boundary since the last evaluation into the
          // baseline; a long silence is folded in closed form.
          int64_t from = g.last_step + 1;
          if (e - from > 64) {
            int64_t skipped = e - 64 - from;
            double keep = std::pow(1 - alpha_, static_cast<double>(skipped));
            g.ewma = static_cast<float>(g.ewma * keep);
            g.weight = static_cast<float>(1 - keep * (1 - g.weight));
            from = e - 64;
          }
          for (int64_t j = from; j <= e; ++j) {
            double c = window_count(j);
            if (j == e) g.base_at_step = g.weight > 0 ? g.ewma / g.weight : 0;
            g.ewma = static_cast<float>((1 - alpha_) * g.ewma + alpha_ * c);
            g.weight = static_cast<float>((1 - alpha_) * g.weight + alpha_);
          }
          g.last_step = e;
        }
        const double count = window_count(e);
        const double base = g.base_at_step;
        const bool warm = e * layout_.bucket_ms - g.first_seen >= p_.warmup_ms;
        if (count == 0 && base < std::max(0.5 * p_.min_count, 0.01) && g.last_seen < eval_ms - p_.window_ms) {
          if (w) wide.erase(it->first);
          s.map.erase(it++);  // nothing left to learn or to miss
          continue;
        }
        if (warm) {
          const char* kind = nullptr;
          double threshold = 0;
          if (p_.spike_factor > 0 && count > p_.spike_factor * base && count >= p_.min_count) {
            kind = "spike";
            threshold = p_.spike_factor * base;
          } else if (p_.drop_factor > 0 && count < p_.drop_factor * base && base >= p_.min_count) {
            kind = "drop";
            threshold = p_.drop_factor * base;
          }
          if (kind) {
            GroupResult r;
            r.group = it->first;
            r.labels = GroupLabels(g.labels);
            r.value = count;
            r.threshold = threshold;
            r.evidence = {{"kind", kind},
                          {"baseline", FormatValue(base)},
                          {"window", FormatValue(static_cast<double>(p_.window_ms) / 1000) + "s"}};
            active->push_back(std::move(r));
          }
        }
        ++it;
      }
    }
  }

  size_t groups() const override { return table_.size(); }
  size_t state_bytes() const override { return table_.bytes_with(wide_); }

  // Saved state (issue 6): the bucket width, then every group with its baseline.
  void SaveState(StateWriter& w) override {
    w.I64(layout_.bucket_ms);
    // The counts as a 32-bit ring, narrow or wide (the format of before the narrow rings).
    SaveGroups(table_, w, [this](StateWriter& out, uint64_t key, const FrequencyGroup& g) {
      out.Pod(g.wide ? wide_[ShardOf(key)].at(key) : Widen(g.ring));
      out.I64(g.first_seen);
      out.I64(g.last_seen);
      out.I64(g.last_step);
      out.F32(g.ewma);
      out.F32(g.weight);
      out.F32(g.base_at_step);
      SaveLabels(out, g.labels);
    });
  }
  bool LoadState(StateReader& r) override {
    int64_t bucket_ms;
    if (!r.I64(&bucket_ms) || bucket_ms != layout_.bucket_ms) return false;
    std::vector<std::pair<uint64_t, WideRing>> wide;  // of the groups with a bucket over the limit
    const bool ok = LoadGroups(table_, r, [&](StateReader& in, uint64_t key, FrequencyGroup* g) {
      WideRing ring;
      if (!in.Pod(&ring)) return false;
      g->ring.head = ring.head;
      for (int i = 0; i < kSlots; ++i) {
        g->wide |= ring.slot[i] > limit_;
        g->ring.slot[i] = static_cast<uint16_t>(ring.slot[i]);
      }
      if (g->wide) wide.emplace_back(key, ring);
      return in.I64(&g->first_seen) && in.I64(&g->last_seen) && in.I64(&g->last_step) && in.F32(&g->ewma) &&
             in.F32(&g->weight) && in.F32(&g->base_at_step) && LoadLabels(in, &g->labels);
    });
    if (!ok) return false;
    for (auto& [key, ring] : wide) {
      auto& s = table_.shard(ShardOf(key));
      std::lock_guard<ShardMutex> lock(s.mu);
      wide_[ShardOf(key)][key] = ring;  // a group evicted meanwhile: swept by Evaluate
    }
    return true;
  }

 private:
  FrequencyParams p_;
  WindowLayout layout_;
  double alpha_;
  GroupTable<FrequencyGroup> table_;
  uint32_t limit_ = narrow_limit;  // the most a narrow bucket counts
  // [shard]: the counts of the groups flagged `wide`, under the shard's lock.
  mutable absl::flat_hash_map<uint64_t, WideRing> wide_[kShards];
};

}  // namespace

void SetFrequencyNarrowLimitForTest(uint32_t limit) { narrow_limit = std::min<uint32_t>(limit, 0xFFFF); }

std::unique_ptr<Detector> NewFrequencyDetector(ConfigMap& cfg, const RuleSpec* spec, const DetectorEnv& env) {
  FrequencyParams p;
  size_t errors_before = cfg.errors()->list().size();
  p.window_ms = RequiredDurationMs(cfg, "window");
  p.baseline_ms = RequiredDurationMs(cfg, "baseline");
  if (p.baseline_ms > 0 && p.window_ms > 0 && p.baseline_ms < p.window_ms) {
    cfg.Error("baseline", "must be at least as long as the window");
  }
  p.warmup_ms = cfg.DurationMs("warmup", p.baseline_ms);
  const double inf = std::numeric_limits<double>::infinity();
  p.spike_factor = cfg.Double("spike_factor", 0, 1, inf);
  p.drop_factor = cfg.Double("drop_factor", 0, 0, 1);
  if (!cfg.Has("spike_factor") && !cfg.Has("drop_factor")) {
    cfg.Error("baseline", "at least one of `spike_factor` and `drop_factor` is required");
  } else if (cfg.Has("drop_factor") && p.drop_factor <= 0) {
    cfg.Error("drop_factor", "must be greater than 0");
  }
  p.min_count = cfg.Double("min_count", 5, 0, inf);
  if (cfg.errors()->list().size() != errors_before) return nullptr;
  return std::make_unique<FrequencyDetector>(spec, env, p);
}

SLUICE_REGISTER_DETECTOR("frequency", NewFrequencyDetector);

}  // namespace sluice::detectors
