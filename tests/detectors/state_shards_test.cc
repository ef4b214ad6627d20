// Saved state across a change of kShards (16 shards until 2026-11-22, 4
// since): a snapshot records the shard count it was written with, and every
// detector loads one of any count, each group (fingerprint, flow) in the shard
// its key picks in this build, under this build's per-shard cap. The
// snapshots of other counts are written by SaveShards' test knob
// (SetSavedShardsForTest), as a build of that many shards lays them out.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "detectors/common/group_state.h"
#include "detectors/rules_harness.h"

namespace sluice::detectors {
namespace {

using testing::Ev;
using testing::kT0;
using testing::RulesHarness;

struct SavedShards {
  explicit SavedShards(uint32_t n) { SetSavedShardsForTest(n); }
  ~SavedShards() { SetSavedShardsForTest(0); }
};

std::string Save(RulesHarness& h, uint32_t shards = 0) {
  SavedShards knob(shards);
  StateWriter w;
  h.engine->detector("R")->SaveState(w);
  return w.buffer();
}

bool Load(RulesHarness& h, const std::string& blob) {
  StateReader r(blob);
  return h.engine->detector("R")->LoadState(r) && r.done();
}

// The same entries, in whatever order the tables hold them: the same bytes, sorted.
std::string SortedBytes(std::string s) {
  std::sort(s.begin(), s.end());
  return s;
}

struct Case {
  const char* name;
  std::string rule;
  int shard_count_at;  // where the blob's shard count is; -1: none (flow)
};

// Every detector type and layout, grouped by service (and a fingerprint or a
// flow key per order), with limits the stream crosses before and after a
// restart.
std::vector<Case> Cases() {
  const std::string head = "rules:\n  - name: R\n    match: {service.name: {exists: true}}\n";
  return {
      {"threshold", head + "    type: threshold\n    group_by: [service.name]\n    window: 1m\n    above: 6\n", 9},
      {"threshold sum", head + "    type: threshold\n    group_by: [service.name]\n    window: 1m\n    field: n\n"
                               "    aggregate: sum\n    above: 3000\n", 9},
      {"frequency", head + "    type: frequency\n    group_by: [service.name]\n    window: 10s\n    baseline: 1m\n"
                           "    warmup: 0s\n    spike_factor: 2\n    drop_factor: 0.5\n", 8},
      {"payload_size", head + "    type: payload_size\n    group_by: [service.name]\n    field: n\n    factor: 3\n"
                              "    min_samples: 10\n    window: 60s\n", 0},
      {"duplicate", head + "    type: duplicate\n    group_by: [service.name]\n    fingerprint: [order.id]\n"
                           "    window: 10m\n    max_repeats: 1\n", 0},
      // Beyond the slots' windows: the GroupTable layout.
      {"duplicate 50d", head + "    type: duplicate\n    group_by: [service.name]\n    fingerprint: [order.id]\n"
                               "    window: 50d\n    max_repeats: 1\n", 0},
      {"flow", "rules:\n  - name: R\n    type: flow\n    key: order.id\n    stages:\n      - name: created\n"
               "        match: {event.action: created}\n      - name: done\n        match: {event.action: done}\n"
               "        within: 30s\n    retention: 1h\n", -1},
  };
}

// A batch of `n` events from `t` on: 150 services, a storm of one, numbers
// with outliers, orders created and done (some repeated).
std::vector<std::string> Stream(std::mt19937_64& rng, int n, int64_t* t) {
  std::vector<std::string> evs;
  for (int k = 0; k < n; ++k) {
    *t += static_cast<int64_t>(rng() % 40);
    const uint64_t svc = rng() % 5 == 0 ? 7 : rng() % 150;
    const uint64_t n_value = rng() % 50 == 0 ? 5000 + rng() % 5000 : 100 + rng() % 20;
    evs.push_back(Ev(*t, StrCat(R"("service":{"name":"svc-)", svc, R"("},"n":)", n_value,
                                R"(,"event":{"action":")", rng() % 3 ? "created" : "done",
                                R"("},"order":{"id":"o-)", rng() % 2000, R"("})")));
  }
  return evs;
}

// The alerts `sink` got (clearing it), sorted, without their samples: the
// sample events are not saved, so a restored engine has none of before.
std::vector<std::string> AlertsWithoutSamples(testing::CaptureAlertSink& sink) {
  std::vector<std::string> out;
  for (Alert a : sink.alerts()) {
    a.samples.clear();
    a.rule_file.clear();  // each harness has its own temp dir
    out.push_back(StrCat(AlertToJson(a), " value=", a.value, " group=", a.group));
  }
  sink.Clear();
  std::sort(out.begin(), out.end());
  return out;
}

// Ticks both engines and compares their alerts.
::testing::AssertionResult TickAndCompare(RulesHarness* h, int64_t now, size_t* seen) {
  for (int k = 0; k < 2; ++k) h[k].engine->Tick(now);
  const std::vector<std::string> a0 = AlertsWithoutSamples(h[0].sink), a1 = AlertsWithoutSamples(h[1].sink);
  *seen += a0.size();
  if (a0 == a1) return ::testing::AssertionSuccess();
  auto r = ::testing::AssertionFailure() << "at T0+" << now - kT0 << "ms:";
  for (const auto& a : a0) r << "\n  0: " << a;
  for (const auto& a : a1) r << "\n  1: " << a;
  return r;
}

// A snapshot written as a build of 16, 1 or 64 shards would (and of this
// build's kShards) loads every group into this build, through the engine's
// state file as at an upgrade; the restored engine then gives the same alerts
// and state as the one that never stopped.
TEST(StateShardsTest, SnapshotOfAnyShardCountLoadsEveryGroupAndGoesOnTheSame) {
  for (const Case& c : Cases()) {
    for (uint32_t shards : {uint32_t{16}, uint32_t{1}, uint32_t{64}, static_cast<uint32_t>(kShards)}) {
      SCOPED_TRACE(StrCat(c.name, ", saved as ", shards, " shards"));
      std::mt19937_64 rng(shards);
      sluice::testing::TempDir data;
      RulesHarness h[2];  // h[0] never stops; h[1] restarts from its snapshot
      h[0].ctx.data_dir = data.path();
      ASSERT_TRUE(h[0].Load(c.rule).ok()) << h[0].errors.ToString();
      int64_t t = kT0;
      for (int b = 0; b < 6; ++b) {
        h[0].Feed(Stream(rng, 500, &t));
        h[0].engine->Tick(t);
      }
      h[0].sink.Clear();
      const std::string blob = Save(h[0], shards), own = Save(h[0]);
      const size_t groups = h[0].engine->detector("R")->groups();
      ASSERT_GT(groups, 100u);
      if (c.shard_count_at >= 0) {
        uint32_t count;
        std::memcpy(&count, blob.data() + c.shard_count_at, 4);
        ASSERT_EQ(count, shards);
        // The same entries; an entry count per shard.
        ASSERT_EQ(blob.size(), own.size() + 8 * shards - 8 * kShards);
      } else {
        ASSERT_EQ(blob, own);  // a flow's snapshot has no shards
      }
      {
        SavedShards knob(shards);
        ASSERT_TRUE(h[0].engine->SaveState().ok());
      }
      h[1].ctx.data_dir = data.path();
      ASSERT_TRUE(h[1].Load(c.rule).ok());
      EXPECT_EQ(h[1].engine->detector("R")->groups(), groups);
      EXPECT_EQ(SortedBytes(Save(h[1])), SortedBytes(own));
      size_t alerts = 0;
      for (int b = 0; b < 6; ++b) {
        const std::vector<std::string> evs = Stream(rng, 500, &t);
        for (auto& x : h) x.Feed(evs);
        ASSERT_TRUE(TickAndCompare(h, t, &alerts)) << "batch " << b;
        ASSERT_EQ(SortedBytes(Save(h[1])), SortedBytes(Save(h[0]))) << "batch " << b;
      }
      for (int64_t later : {30'000, 400'000}) ASSERT_TRUE(TickAndCompare(h, t + later, &alerts));
      EXPECT_GT(alerts, 0u);
    }
  }
}

// A snapshot with more groups than this build's shards hold (saved with a
// larger max_groups_per_rule) fills each shard to its cap and no further; the
// groups dropped are not counted as evictions.
TEST(StateShardsTest, SnapshotOfSixteenShardsKeepsThePerShardCap) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    std::mt19937_64 rng(3);
    RulesHarness big, small;
    ASSERT_TRUE(big.Load(c.rule).ok()) << big.errors.ToString();
    const size_t cap = 8;  // per shard
    // A flow rule's cap is its max_flows.
    const std::string small_rule = c.shard_count_at < 0 ? StrCat(c.rule, "    max_flows: ", cap * kShards, "\n") : c.rule;
    ASSERT_TRUE(small.Load(small_rule, RuleEngineOptions{.allowed_lateness_ms = 0, .max_groups_per_rule = cap * kShards}).ok())
        << small.errors.ToString();
    int64_t t = kT0;
    big.Feed(Stream(rng, 3000, &t));
    const size_t groups = big.engine->detector("R")->groups();
    ASSERT_GT(groups, 3 * cap * kShards);  // (each shard then over its cap)
    ASSERT_TRUE(Load(small, Save(big, 16)));
    EXPECT_EQ(small.engine->detector("R")->groups(), cap * kShards);
    // (A flow forgotten at the cap is counted as given up, whenever.)
    if (c.shard_count_at >= 0) {
      EXPECT_EQ(small.Metric("sluice_rule_evictions_total", "R"), 0);
    }
  }
}

// A shard count no build writes is refused, nothing loaded.
TEST(StateShardsTest, RefusesAShardCountNoBuildWrites) {
  for (const Case& c : Cases()) {
    if (c.shard_count_at < 0) continue;
    SCOPED_TRACE(c.name);
    std::mt19937_64 rng(5);
    RulesHarness h[2];
    ASSERT_TRUE(h[0].Load(c.rule).ok());
    ASSERT_TRUE(h[1].Load(c.rule).ok());
    int64_t t = kT0;
    h[0].Feed(Stream(rng, 500, &t));
    for (uint32_t bad : {uint32_t{0}, kMaxSavedShards + 1}) {
      std::string blob = Save(h[0]);
      std::memcpy(blob.data() + c.shard_count_at, &bad, 4);
      StateReader r(blob);
      EXPECT_FALSE(h[1].engine->detector("R")->LoadState(r)) << bad;
      EXPECT_EQ(h[1].engine->detector("R")->groups(), 0u);
    }
  }
}

}  // namespace
}  // namespace sluice::detectors
