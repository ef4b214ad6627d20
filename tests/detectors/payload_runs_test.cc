// The payload_size detector applies a run of one group's updates with the
// group's state in registers (SetPayloadSizeRunsForTest(true), the default)
// against update by update: random rules (a field or the event's size, few or
// many groups, min_samples small and large) and random streams (runs of a
// group, other groups between, values that are no number, huge outliers,
// times in and out of order) must leave every group's saved state the same
// to the bit (estimator, outliers, times, labels) and send the same alerts.
// Likewise the engine's value runs (a chunk's matches of a group with their
// values, times and events: RuleEngineOptions::chunk_runs) against per match.
//
// Its own binary: the knob is read when a detector is made.

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <random>

#include "detectors/payload_size/payload_size.h"
#include "detectors/rules_harness.h"

namespace sluice::detectors {
namespace {

using testing::Ev;
using testing::kT0;
using testing::Pick;
using testing::RulesHarness;

// A payload_size rule's saved state as key -> that group's bytes (the blob
// lists each shard's groups in its table's order, which differs between two
// engines). SaveGroups' layout: shards, then per shard a count and per group
// the key and PayloadSizeDetector::SaveState's fields.
std::map<uint64_t, std::string> GroupsOf(Detector* d) {
  StateWriter w;
  d->SaveState(w);
  StateReader r(w.buffer());
  std::map<uint64_t, std::string> out;
  uint32_t shards = 0;
  EXPECT_TRUE(r.U32(&shards));
  for (uint32_t s = 0; s < shards; ++s) {
    uint64_t n = 0;
    EXPECT_TRUE(r.U64(&n));
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t key = 0;
      RobustStats st;
      int64_t last_seen = 0, last_outlier = 0;
      double value = 0, limit = 0;
      uint32_t outliers = 0;
      std::string_view labels;
      EXPECT_TRUE(r.U64(&key) && r.Pod(&st) && r.I64(&last_seen) && r.I64(&last_outlier) && r.F64(&value) &&
                  r.F64(&limit) && r.U32(&outliers) && r.StrView(&labels));
      std::string bytes(reinterpret_cast<const char*>(&st.median), sizeof st.median);
      bytes.append(reinterpret_cast<const char*>(&st.mad), sizeof st.mad);
      StrAppend(&bytes, " n=", st.n, " seen=", last_seen, " outlier=", last_outlier, " ", outliers, " ");
      bytes.append(reinterpret_cast<const char*>(&value), sizeof value);
      bytes.append(reinterpret_cast<const char*>(&limit), sizeof limit);
      StrAppend(&bytes, " labels=", labels);
      out[key] = bytes;
    }
  }
  return out;
}

// Random rule sets and streams into two engines: `a` made with the detector's
// runs `runs_a` (SetPayloadSizeRunsForTest) and the engine's chunk runs
// `chunks_a` (for seed), `b` likewise; every group's saved state, the alerts
// and the metrics must be the same.
void CompareEngines(const std::function<std::pair<bool, bool>(uint64_t seed)>& a,
                    const std::function<std::pair<bool, bool>(uint64_t seed)>& b) {
  size_t alerts_seen = 0, groups_seen = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    std::mt19937_64 rng(seed);
    std::string yaml = "rules:\n";
    const int nrules = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < nrules; ++i) {
      StrAppend(&yaml, "  - name: P", i, "\n    type: payload_size\n    match: ",
                Pick(rng, {"{service.name: {exists: true}}", "{log.level: [ERROR, WARN]}"}),
                "\n    group_by: ", Pick(rng, {"[service.name]", "[]", "[service.name, host.name]", "[u]"}),
                "\n    factor: ", Pick(rng, {"0.5", "3", "6"}), "\n    min_samples: ", Pick(rng, {"1", "5", "20", "50"}),
                "\n    window: ", Pick(rng, {"1s", "30s", "5m"}), "\n");
      if (rng() % 2) yaml += "    field: n\n";
    }
    RuleEngineOptions o{.allowed_lateness_ms = 0};
    SetPayloadSizeRunsForTest(a(seed).first);
    o.chunk_runs = a(seed).second;
    RulesHarness runs;
    ASSERT_TRUE(runs.Load(yaml, o).ok()) << runs.errors.ToString() << yaml;
    SetPayloadSizeRunsForTest(b(seed).first);
    o.chunk_runs = b(seed).second;
    RulesHarness single;
    ASSERT_TRUE(single.Load(yaml, o).ok()) << yaml;
    SetPayloadSizeRunsForTest(true);

    int64_t t = kT0;
    int svc = 0;
    const uint64_t us = 1 + rng() % 40;
    for (int b = 0; b < 30; ++b) {
      std::vector<std::string> evs;
      const int n = 1 + static_cast<int>(rng() % 500);
      const bool in_order = rng() % 2;  // chunks the engine's value runs take
      for (int k = 0; k < n; ++k) {
        t += static_cast<int64_t>(rng() % 300);
        int64_t ts = t;
        if (!in_order && rng() % 20 == 0) ts -= static_cast<int64_t>(rng() % 60'000);  // out of order
        if (rng() % 10 < 2) svc = static_cast<int>(rng() % 5);          // runs of one service
        std::string members = StrCat(R"("service":{"name":"svc-)", svc, R"("},"host":{"name":"h)", rng() % 2,
                                     R"("},"log":{"level":")", Pick(rng, {"ERROR", "WARN", "INFO"}), R"("},"u":"u)",
                                     rng() % us, R"(")");
        switch (rng() % 12) {
          case 0: break;                                                  // no value
          case 1: members += R"(,"n":"x")"; break;                        // not a number
          case 2: StrAppend(&members, ",\"n\":", 1e6 + rng() % 1000); break;  // an outlier
          case 3: StrAppend(&members, ",\"n\":", static_cast<double>(rng() % 10'000) / 7); break;
          case 4: StrAppend(&members, ",\"n\":-", rng() % 100); break;
          default: StrAppend(&members, ",\"n\":", 900 + rng() % 200); break;
        }
        // Padding: event sizes vary, some far larger.
        StrAppend(&members, R"(,"message":")", std::string(rng() % 40 + (rng() % 50 == 0 ? 3000 : 0), 'x'), R"(")");
        // A third with @metadata, which the document sent (and its size,
        // Batch::DocLength) leaves out: the size is not the raw length.
        if (k % 3 == 0) StrAppend(&members, R"(,"@metadata":{"beat":"filebeat","type":"_doc","k":")", k % 7, R"("})");
        evs.push_back(Ev(ts, members));
      }
      runs.engine->Observe(*runs.MakeBatch(evs));
      single.engine->Observe(*single.MakeBatch(evs));
      if (rng() % 3 == 0) {
        const int64_t now = t + static_cast<int64_t>(rng() % 20'000);
        runs.engine->Tick(now);
        single.engine->Tick(now);
        const auto a = testing::SortedAlerts(runs.sink, true);
        alerts_seen += a.size();
        ASSERT_EQ(a, testing::SortedAlerts(single.sink, true)) << "seed " << seed << " batch " << b << "\n" << yaml;
      }
    }
    for (int i = 0; i < nrules; ++i) {
      const std::string name = StrCat("P", i);
      const auto a = GroupsOf(runs.engine->detector(name));
      const auto s = GroupsOf(single.engine->detector(name));
      groups_seen += a.size();
      ASSERT_EQ(a, s) << name << " seed " << seed << "\n" << yaml;
      EXPECT_EQ(runs.Metric("sluice_rule_events_matched_total", name),
                single.Metric("sluice_rule_events_matched_total", name));
    }
  }
  EXPECT_GT(alerts_seen, 50u);
  EXPECT_GT(groups_seen, 100u);
}

TEST(PayloadRunsTest, SameStateAndAlertsAsUpdateByUpdate) {
  // Per match (no value runs), the detector's runs on and off.
  CompareEngines([](uint64_t) { return std::pair{true, false}; }, [](uint64_t) { return std::pair{false, false}; });
}

TEST(PayloadRunsTest, ValueRunsSameAsPerMatch) {
  // The engine's value runs against per match, the detector's runs on or off.
  CompareEngines([](uint64_t seed) { return std::pair{seed % 3 != 0, true}; },
                 [](uint64_t seed) { return std::pair{seed % 3 != 0, false}; });
}

}  // namespace
}  // namespace sluice::detectors
