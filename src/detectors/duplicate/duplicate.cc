#include "detectors/duplicate/duplicate.h"

#include "absl/container/flat_hash_map.h"
#include "common/strings.h"
#include "detectors/common/group_state.h"
#include "detectors/common/label_template.h"
#include "pipeline/component.h"

namespace sluice::detectors {
namespace {

constexpr size_t kPrefetchAhead = 8;  // updates

struct DuplicateParams {
  int64_t window_ms = 0;
  uint32_t max_repeats = 1;
};

struct Fingerprint {
  uint64_t group = 0;
  int64_t first = 0;      // first request of the current window
  int64_t last_seen = 0;  // newest request
  uint32_t count = 0;
  CompactString labels;  // group label values, \0-separated
};

class DuplicateDetector : public Detector {
 public:
  DuplicateDetector(const RuleSpec* spec, const DetectorEnv& env, DuplicateParams p, std::vector<int> fp)
      : Detector(spec, env), p_(p), table_(env.max_groups) {
    lateness_ms_ = env.allowed_lateness_ms;
    key_fields_ = std::move(fp);
  }

  void Apply(size_t shard, const Update* u, size_t n, const Batch& batch,
             std::vector<SampleCandidate>* samples) override {
    auto& s = table_.shard(shard);
    std::lock_guard<std::mutex> lock(s.mu);
    for (size_t i = 0; i < std::min(n, kPrefetchAhead); ++i) s.map.prefetch(u[i].key);
    for (size_t i = 0; i < n; ++i) {
      const Update& up = u[i];
      // Fingerprints are mostly new or far apart in the table (one per
      // shipped line in the 30-rule set's DuplicateShipping): the slot of the
      // update a few ahead is fetched while this one is applied.
      if (i + kPrefetchAhead < n) s.map.prefetch(u[i + kPrefetchAhead].key);
      bool created;
      Fingerprint& f = table_.Get(s, up.key, &created, env_.evictions);
      if (created || up.ts >= f.first + p_.window_ms) {
        // A new fingerprint, or its window is over: start counting again.
        if (created) SetGroupLabels(batch, up.event, &f.labels);
        f.group = up.group;
        f.first = f.last_seen = up.ts;
        f.count = 1;
        continue;
      }
      if (up.ts < f.first) {
        if (up.ts <= f.last_seen - p_.window_ms) {
          env_.late_events->Inc();  // older than anything the window still counts
          continue;
        }
        f.first = up.ts;
      }
      if (up.ts > f.last_seen) f.last_seen = up.ts;
      ++f.count;
      // The first few repeats beyond the limit are the evidence.
      if (f.count > p_.max_repeats && f.count <= p_.max_repeats + 2) samples->push_back({up.group, up.event});
    }
  }

  void Evaluate(int64_t eval_ms, std::vector<GroupResult>* active) override {
    struct Agg {
      uint32_t max_count = 0;
      uint64_t wasted = 0;
      uint32_t fingerprints = 0;
      const CompactString* labels = nullptr;
    };
    absl::flat_hash_map<uint64_t, Agg> by_group;
    std::vector<std::unique_lock<std::mutex>> locks;  // labels are read after the loop
    for (size_t si = 0; si < kShards; ++si) {
      auto& s = table_.shard(si);
      locks.emplace_back(s.mu);
      for (auto it = s.map.begin(); it != s.map.end();) {
        Fingerprint& f = it->second;
        if (f.last_seen < eval_ms - p_.window_ms) {
          s.map.erase(it++);
          continue;
        }
        if (f.count > p_.max_repeats) {
          Agg& a = by_group[f.group];
          a.max_count = std::max(a.max_count, f.count);
          a.wasted += f.count - 1;
          ++a.fingerprints;
          a.labels = &f.labels;
        }
        ++it;
      }
    }
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
  }

  size_t groups() const override { return table_.size(); }
  size_t state_bytes() const override { return table_.bytes(); }

  // Saved state (issue 6): every fingerprint with its window and count.
  void SaveState(StateWriter& w) override {
    SaveGroups(table_, w, [](StateWriter& out, const Fingerprint& f) {
      out.U64(f.group);
      out.I64(f.first);
      out.I64(f.last_seen);
      out.U32(f.count);
      SaveLabels(out, f.labels);
    });
  }
  bool LoadState(StateReader& r) override {
    return LoadGroups(table_, r, [](StateReader& in, Fingerprint* f) {
      return in.U64(&f->group) && in.I64(&f->first) && in.I64(&f->last_seen) && in.U32(&f->count) &&
             LoadLabels(in, &f->labels);
    });
  }

 private:
  DuplicateParams p_;
  GroupTable<Fingerprint> table_;
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
  return std::make_unique<DuplicateDetector>(spec, env, p, std::move(fp));
}

SLUICE_REGISTER_DETECTOR("duplicate", NewDuplicateDetector);

}  // namespace sluice::detectors
