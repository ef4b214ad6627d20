// The updates a merging detector receives when the engine gathers a chunk's
// matches per group (RuleEngineOptions::chunk_runs) against the per-match
// updates: for every key, the same runs of one bucket, with the same count,
// first event, first time, newest time and maximum. The alerts compared by
// MergeUpdatesTest.ChunkRunsSameAsPerMatch show little of a group's times
// (last_seen only decides when a group is forgotten or evicted); this
// detector records them all.
//
// Its own binary: the test type "update_recorder" would otherwise show in
// rule_file_test's list of known types.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <vector>

#include "detectors/rules_harness.h"

namespace sluice::detectors {
namespace {

using testing::Ev;
using testing::kT0;
using testing::Pick;
using testing::RulesHarness;

// What a key's consecutive updates within one bucket add up to (an update
// without a number, skipped by the aggregate detectors, is left out).
struct Run {
  int64_t bucket = 0;
  uint64_t count = 0;
  uint32_t first_event = 0;
  int64_t first_ts = 0, min_ts = 0, max_ts_last = 0;
  double max_value = 0;
  bool operator==(const Run& o) const {
    return bucket == o.bucket && count == o.count && first_event == o.first_event && first_ts == o.first_ts &&
           min_ts == o.min_ts && max_ts_last == o.max_ts_last &&
           std::memcmp(&max_value, &o.max_value, sizeof max_value) == 0;
  }
};

std::string RunText(const Run& r) {
  return StrCat("bucket ", r.bucket, " count ", r.count, " event ", r.first_event, " ts ", r.first_ts, " min ",
                r.min_ts, " last ", r.max_ts_last, " max ", r.max_value);
}

class RecorderDetector : public Detector {
 public:
  RecorderDetector(const RuleSpec* spec, const DetectorEnv& env, bool max, int field, int64_t bucket_ms)
      : Detector(spec, env) {
    merge_ = max ? Merge::kMax : Merge::kCount;
    merge_bucket_ms_ = bucket_ms;
    if (field >= 0) {
      value_source_ = ValueSource::kField;
      value_field_ = field;
    }
  }
  void Apply(size_t, const Update* u, size_t n, const Batch&, std::vector<SampleCandidate>*) override {
    std::lock_guard<std::mutex> l(mu_);
    for (size_t i = 0; i < n; ++i) {
      const Update& up = u[i];
      ASSERT_LE(up.ts, up.ts_last);
      ASSERT_EQ(up.key, up.group);
      if (std::isnan(up.value)) continue;
      const int64_t b = FloorDiv(up.ts, merge_bucket_ms_);
      ASSERT_EQ(FloorDiv(up.ts_last, merge_bucket_ms_), b);
      std::vector<Run>& runs = keys_[up.key];
      if (runs.empty() || runs.back().bucket != b) {
        runs.push_back(Run{b, up.count, up.event, up.ts, up.ts, up.ts_last, up.value});
        continue;
      }
      Run& r = runs.back();
      r.count += up.count;
      r.min_ts = std::min(r.min_ts, up.ts);
      r.max_ts_last = std::max(r.max_ts_last, up.ts_last);
      if (up.value > r.max_value) r.max_value = up.value;
    }
  }
  void Evaluate(int64_t, std::vector<GroupResult>*) override {}
  size_t groups() const override { return keys_.size(); }
  size_t state_bytes() const override { return 0; }
  const std::map<uint64_t, std::vector<Run>>& keys() const { return keys_; }

 private:
  std::mutex mu_;
  std::map<uint64_t, std::vector<Run>> keys_;
};

std::unique_ptr<Detector> NewRecorder(ConfigMap& cfg, const RuleSpec* spec, const DetectorEnv& env) {
  const bool max = cfg.Enum("merge", "count", {"count", "max"}) == "max";
  const int field = max ? OptionalField(cfg, "field", env.fields) : -1;
  const int64_t bucket_ms = RequiredDurationMs(cfg, "bucket");
  return std::make_unique<RecorderDetector>(spec, env, max, field, bucket_ms);
}
SLUICE_REGISTER_DETECTOR("update_recorder", NewRecorder);

// What a stream's events carry as `n` and how the rules group them
// (Compare's knobs).
struct StreamKind {
  std::vector<std::string> group_by;
  int services = 4;
  // A member `,"n":...` (or none) for an event.
  std::function<std::string(std::mt19937_64&)> value;
  bool simd = true;  // RuleEngineOptions::simd of the gathering engine
};

// Random rule sets of update_recorder rules and random streams into an engine
// that gathers a chunk's matches per group and one that takes them per
// match: every key's runs and the rules' match counts must be the same.
// Returns the runs compared.
size_t Compare(const StreamKind& kind, uint64_t seeds) {
  size_t runs_seen = 0;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    std::mt19937_64 rng(seed);
    const int nrules = 2 + static_cast<int>(rng() % 5);
    std::string yaml = "rules:\n";
    for (int i = 0; i < nrules; ++i) {
      StrAppend(&yaml, "  - name: R", i, "\n    type: update_recorder\n    match: ",
                Pick(rng, {"{log.level: ERROR}", "{service.name: {exists: true}}", "{n: {gte: 10}}",
                           "{log.level: [ERROR, WARN]}"}),
                "\n    group_by: ", Pick(rng, kind.group_by), "\n    bucket: ", Pick(rng, {"1s", "2s", "10s", "1m"}),
                "\n");
      if (rng() % 2) yaml += "    merge: max\n    field: n\n";
    }
    RulesHarness gathered, single;
    EXPECT_TRUE(gathered.Load(yaml, {.allowed_lateness_ms = 0, .simd = kind.simd}).ok())
        << gathered.errors.ToString() << yaml;
    EXPECT_TRUE(single.Load(yaml, {.allowed_lateness_ms = 0, .chunk_runs = false}).ok()) << yaml;

    const int64_t step = std::vector<int64_t>{1, 4, 20, 500}[rng() % 4];  // ms between events, at most
    int64_t t = kT0;
    int svc = 0;
    for (int b = 0; b < 20; ++b) {
      std::vector<std::string> evs;
      const int n = 1 + static_cast<int>(rng() % 900);
      const bool ordered = rng() % 4 != 0;
      for (int k = 0; k < n; ++k) {
        t += static_cast<int64_t>(rng() % static_cast<uint64_t>(step + 1));
        int64_t ts = t;
        if (!ordered && rng() % 50 == 0) ts -= static_cast<int64_t>(rng() % 3000);  // out of order
        if (rng() % 10 < 3) svc = static_cast<int>(rng() % static_cast<uint64_t>(kind.services));
        std::string members = StrCat(R"("service":{"name":"svc-)", svc, R"("},"host":{"name":"h)", rng() % 3,
                                     R"("},"log":{"level":")", Pick(rng, {"ERROR", "WARN", "INFO"}),
                                     R"("},"u":"u)", rng() % (rng() % 3 ? 5 : 40), R"(")");
        members += kind.value(rng);
        evs.push_back(Ev(ts, members));
      }
      gathered.engine->Observe(*gathered.MakeBatch(evs));
      single.engine->Observe(*single.MakeBatch(evs));
    }
    for (int i = 0; i < nrules; ++i) {
      const std::string name = StrCat("R", i);
      const auto& a = dynamic_cast<RecorderDetector*>(gathered.engine->detector(name))->keys();
      const auto& s = dynamic_cast<RecorderDetector*>(single.engine->detector(name))->keys();
      EXPECT_EQ(a.size(), s.size()) << name << " seed " << seed << "\n" << yaml;
      for (const auto& [key, runs] : s) {
        auto it = a.find(key);
        EXPECT_TRUE(it != a.end()) << name << " seed " << seed;
        if (it == a.end()) return runs_seen;
        EXPECT_EQ(it->second.size(), runs.size()) << name << " seed " << seed << "\n" << yaml;
        if (it->second.size() != runs.size()) return runs_seen;
        for (size_t k = 0; k < runs.size(); ++k) {
          EXPECT_TRUE(it->second[k] == runs[k]) << name << " seed " << seed << " run " << k << "\ngathered: "
                                                << RunText(it->second[k]) << "\nsingle:   " << RunText(runs[k]);
          if (!(it->second[k] == runs[k])) return runs_seen;
        }
        runs_seen += runs.size();
      }
      EXPECT_EQ(gathered.Metric("sluice_rule_events_matched_total", name),
                single.Metric("sluice_rule_events_matched_total", name));
    }
  }
  return runs_seen;
}

TEST(ChunkRunsTest, SameRunsPerKeyAsPerMatch) {
  StreamKind kind;
  kind.group_by = {"[service.name]", "[]", "[service.name, host.name]", "[u]"};
  kind.value = [](std::mt19937_64& rng) -> std::string {
    switch (rng() % 6) {
      case 0: return "";                      // no value
      case 1: return R"(,"n":"x")";           // not a number
      case 2: return ",\"n\":-0.0";           // equal to 0, another sign
      default: return StrCat(",\"n\":", rng() % 1000);
    }
  };
  EXPECT_GT(Compare(kind, 40), 1000u);
}

// A max rule's groups of many matches take their maximum 4 values at a time
// (AVX2; exact but for a maximum of zero, whose sign the first of equal
// zeros decides: taken value by value then): streams of zeros of both signs,
// negatives, infinities, huge values and values that are no number, groups
// of few and of many matches, with the vector code and without.
TEST(ChunkRunsTest, MaxOfManyMatchesSameAsPerMatch) {
  for (bool simd : {true, false}) {
    for (bool zeros : {false, true}) {  // maxima mostly positive, or mostly a zero of either sign
      StreamKind kind;
      kind.simd = simd;
      kind.group_by = {"[service.name]", "[]", "[service.name]", "[host.name]"};
      kind.services = 6;
      kind.value = [zeros](std::mt19937_64& rng) -> std::string {
        switch (rng() % 10) {
          case 0: return "";
          case 1: return R"(,"n":"x")";
          case 2: return ",\"n\":-0.0";
          case 3: return ",\"n\":0";
          case 4: return StrCat(",\"n\":-", rng() % 50);
          case 5: return rng() % 4 ? ",\"n\":-1e400" : ",\"n\":1e400";  // infinities
          case 6: return zeros ? ",\"n\":-0.0" : StrCat(",\"n\":", rng() % 1000, "e15");
          default: return zeros ? Pick(rng, {",\"n\":0", ",\"n\":-0.0", ",\"n\":-3"}) : StrCat(",\"n\":", rng() % 1000);
        }
      };
      EXPECT_GT(Compare(kind, 30), 500u) << "simd " << simd << " zeros " << zeros;
    }
  }
}

}  // namespace
}  // namespace sluice::detectors
