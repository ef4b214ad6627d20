// Runs of one group's updates merged by the engine before Apply (threshold
// counts and maxima, frequency; Detector::merge()) against the same rules fed
// one update per event (RuleEngineOptions::merge_updates = false): random rule
// sets and random streams (groups in runs, times in and out of order, late
// events, values of every kind) must give the same
// alerts, evidence, samples and per-rule metrics. Likewise the group hashes
// computed once per group_by list and event (shared_group_hashes) against one
// per update.

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "detectors/common/hash_lanes.h"
#include "detectors/rules_harness.h"

namespace sluice::detectors {
namespace {

using testing::Ev;
using testing::kT0;
using testing::Pick;
using testing::RulesHarness;

// `chunky`: also groups by a field of up to 48 values (more groups in a
// chunk than the engine gathers per chunk). `tricky`: also groups and
// fingerprints by field v (TrickyValue).
std::string RandomRule(std::mt19937_64& rng, int i, bool chunky, bool tricky = false) {
  const std::string match = Pick(rng, {"{log.level: ERROR}", "{service.name: {exists: true}}",
                                       "{n: {gte: 10}}", "{log.level: [ERROR, WARN]}"});
  const std::string group =
      tricky   ? Pick(rng, {"[v]", "[v]", "[service.name, v]", "[v, host.name]", "[host.name]"})
      : chunky ? Pick(rng, {"[service.name]", "[]", "[service.name, host.name]", "[host.name]",
                            "[host.name, service.name]", "[u]", "[u, service.name]"})
               : Pick(rng, {"[service.name]", "[]", "[service.name, host.name]", "[host.name]",
                            "[host.name, service.name]"});
  const std::string window = Pick(rng, {"1s", "2s", "10s", "1m", "5m"});
  const std::string head = StrCat("  - name: R", i, "\n    match: ", match, "\n    group_by: ", group,
                                  "\n    window: ", window, "\n");
  switch (std::uniform_int_distribution<int>(0, 5)(rng)) {
    case 0:
      return StrCat(head, "    type: threshold\n    above: ", rng() % 20, "\n");
    case 1:
      return StrCat(head, "    type: threshold\n    below: ", 1 + rng() % 5, "\n");
    case 2:
      return StrCat(head, "    type: threshold\n    field: n\n    aggregate: max\n    above: ",
                    Pick(rng, {"0", "500", "999.5", "3.0e7"}), "\n");
    case 3:  // not merged: the control
      return StrCat(head, "    type: threshold\n    field: n\n    aggregate: ", Pick(rng, {"sum", "avg"}),
                    "\n    above: ", rng() % 5000, "\n");
    case 4:
      return StrCat(head, "    type: frequency\n    baseline: ", Pick(rng, {"5m", "10m"}),
                    "\n    warmup: ", Pick(rng, {"0s", "5s"}), "\n    spike_factor: 2\n    drop_factor: 0.5\n",
                    "    min_count: ", rng() % 6, "\n");
    default:  // not merged: the control
      return StrCat(head, "    type: duplicate\n    fingerprint: ", tricky ? Pick(rng, {"[v]", "[n, v]", "[n]"}) : "[n]",
                    "\n    max_repeats: ", rng() % 3, "\n");
  }
}

// A value of field v for the group hashes' memo (RuleEngineOptions::hash_memo):
// strings of every length up to 40 around the memo's 4-, 8-, 16-, 24- and
// 32-byte steps, drawn from few enough values to repeat, that differ in a
// single byte anywhere (the middle of a 32-byte value included), escaped
// forms, numbers, true/false/null, objects, or no v at all.
std::string TrickyValue(std::mt19937_64& rng) {
  switch (rng() % 12) {
    case 0:
      return "";  // missing
    case 1:
      return R"(,"v":)" + Pick(rng, {"null", "true", "false", "12", "12.0", "-3", R"({"a":1})", "[1,2]"});
    case 2:
      return StrCat(R"(,"v":"A)", rng() % 3, R"(")");  // escaped
    default: {
      // Few enough values that the samples kept per group never evict (their
      // victim follows a table's iteration order, which differs between engines).
      const size_t lens[] = {0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 40};
      const size_t len = lens[rng() % std::size(lens)];
      std::string v(len, 'a');
      for (size_t k = 0; k < len; ++k) v[k] = static_cast<char>('a' + k % 26);
      if (len > 0 && rng() % 2) {
        // One byte changed: in the middle, the last, or byte 20 (only in the
        // memo's third window at 25 to 32 bytes).
        const size_t at = std::vector<size_t>{len / 2, len - 1, std::min<size_t>(20, len - 1)}[rng() % 3];
        v[at] = 'x';
      }
      return StrCat(R"(,"v":")", v, R"(")");
    }
  }
}

// A payload_size rule of the event's own bytes or of field n, grouped by
// nothing, one or two fields (`tricky`: also by field v).
std::string PayloadRule(std::mt19937_64& rng, int i, bool tricky) {
  const std::string group = tricky ? Pick(rng, {"[v]", "[service.name, v]", "[]"})
                                   : Pick(rng, {"[service.name]", "[]", "[service.name, host.name]", "[host.name]"});
  return StrCat("  - name: R", i, "\n    type: payload_size\n    match: ",
                Pick(rng, {"{service.name: {exists: true}}", "{log.level: ERROR}", "{n: {gte: 10}}"}),
                "\n    group_by: ", group, rng() % 2 ? "\n    field: n" : "", "\n    factor: ",
                Pick(rng, {"2", "4"}), "\n    min_samples: ", 5 + rng() % 20, "\n");
}

std::string AlertText(Alert a) {
  a.rule_file.clear();  // each harness has its own temp dir
  std::string s = AlertToJson(a);
  StrAppend(&s, " value=", a.value, " group=", a.group);
  for (const auto& x : a.samples) StrAppend(&s, " sample=", x);
  return s;
}

std::vector<std::string> Texts(testing::CaptureAlertSink& sink) {
  std::vector<std::string> out;
  for (const Alert& a : sink.alerts()) out.push_back(AlertText(a));
  return out;
}

// The first alert that differs, or "" when the lists are the same, then
// clears both. Sorted: the order of one Tick's alerts follows the hash
// tables' iteration order, which differs between two tables (absl salts it
// with the table's address).
std::string FirstDifference(testing::CaptureAlertSink& a, testing::CaptureAlertSink& b) {
  std::vector<std::string> x = Texts(a), y = Texts(b);
  std::sort(x.begin(), x.end());
  std::sort(y.begin(), y.end());
  a.Clear();
  b.Clear();
  for (size_t i = 0; i < std::max(x.size(), y.size()); ++i) {
    const std::string xi = i < x.size() ? x[i] : "<none>", yi = i < y.size() ? y[i] : "<none>";
    if (xi != yi) return StrCat("alert ", i, ":\nmerged: ", xi, "\nsingle: ", yi);
  }
  return "";
}

// Random rule sets and streams through two engines, the second with its
// options changed by `change`: the same alerts and metrics. `chunky`: half
// the batches in time order (no late or out-of-order events), and rules
// grouped by a field of many values (RandomRule). `tricky`: rules grouped and
// fingerprinted by field v (TrickyValue). `payload`: payload_size rules too
// (of the event's bytes and of field n; PayloadRule).
void CompareEngines(void (*change)(RuleEngineOptions*), bool chunky = false, bool tricky = false,
                    bool payload = false) {
  // Not sluice_rule_state_bytes: a table's capacity after erasures depends on
  // where its tombstones fell (again the table's address).
  const char* kMetrics[] = {"sluice_rule_events_matched_total", "sluice_rule_late_events_total",
                            "sluice_rule_evictions_total", "sluice_rule_groups",
                            "sluice_rule_alerts_firing", "sluice_rule_alerts_pending"};
  size_t alerts_seen = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    std::mt19937_64 rng(seed);
    const int nrules = 3 + static_cast<int>(rng() % 5);
    std::string yaml = "rules:\n";
    for (int i = 0; i < nrules; ++i) yaml += RandomRule(rng, i, chunky, tricky);
    if (payload) {
      for (int i = nrules; i < nrules + 2; ++i) yaml += PayloadRule(rng, i, tricky);
    }
    RuleEngineOptions o{.allowed_lateness_ms = static_cast<int64_t>(rng() % 3) * 5000,
                        .max_groups_per_rule = 100'000};  // evictions: table order, see FirstDifference
    RulesHarness merged, single;
    ASSERT_TRUE(merged.Load(yaml, o).ok()) << merged.errors.ToString() << yaml;
    change(&o);
    ASSERT_TRUE(single.Load(yaml, o).ok()) << single.errors.ToString() << yaml;

    const int64_t step = std::vector<int64_t>{1, 20, 500}[rng() % 3];  // ms between events, at most
    int64_t t = kT0;
    int svc = 0;
    for (int b = 0; b < 25; ++b) {
      std::vector<std::string> evs;
      const int n = 1 + static_cast<int>(rng() % 700);
      const bool ordered = chunky && rng() % 2 == 0;
      for (int k = 0; k < n; ++k) {
        t += static_cast<int64_t>(rng() % static_cast<uint64_t>(step + 1));
        int64_t ts = t;
        const uint64_t r = rng() % 100;
        if (r < 5 && !ordered) ts -= static_cast<int64_t>(rng() % 3000);  // out of order
        if (r == 5 && !ordered) ts -= 20 * 60'000;                        // late
        if (rng() % 10 < 3) svc = static_cast<int>(rng() % 5);  // runs of one service
        std::string members = StrCat(R"("service":{"name":"svc-)", svc, R"("},"host":{"name":"h)", rng() % 2,
                                     R"("},"log":{"level":")", Pick(rng, {"ERROR", "ERROR", "WARN", "INFO"}),
                                     R"("})");
        if (chunky) StrAppend(&members, R"(,"u":"u)", rng() % (rng() % 2 ? 48 : 6), R"(")");
        if (tricky) members += TrickyValue(rng);
        switch (rng() % 10) {
          case 0: break;                                              // no value
          case 1: members += R"(,"n":"x")"; break;                    // not a number
          case 2: StrAppend(&members, ",\"n\":", 30'000'000 + rng() % 1000); break;  // float rounds
          case 3: StrAppend(&members, ",\"n\":", static_cast<double>(rng() % 10'000) / 7); break;
          case 4: StrAppend(&members, ",\"n\":-", rng() % 100); break;
          default: StrAppend(&members, ",\"n\":", rng() % 1000); break;
        }
        evs.push_back(Ev(ts, members));
      }
      auto batch = merged.MakeBatch(evs);
      merged.engine->Observe(*batch);
      single.engine->Observe(*single.MakeBatch(evs));
      if (rng() % 2) {
        const int64_t now = t + static_cast<int64_t>(rng() % 20'000);
        merged.engine->Tick(now);
        single.engine->Tick(now);
        alerts_seen += merged.sink.alerts().size();
        ASSERT_EQ(FirstDifference(merged.sink, single.sink), "") << "seed " << seed << " batch " << b << "\n" << yaml;
      }
    }
    for (int64_t later : {0, 30'000, 400'000}) {
      merged.engine->Tick(t + later);
      single.engine->Tick(t + later);
      alerts_seen += merged.sink.alerts().size();
      ASSERT_EQ(FirstDifference(merged.sink, single.sink), "") << "seed " << seed << "\n" << yaml;
    }
    for (int i = 0; i < nrules + (payload ? 2 : 0); ++i) {
      for (const char* m : kMetrics) {
        EXPECT_EQ(merged.Metric(m, StrCat("R", i)), single.Metric(m, StrCat("R", i)))
            << m << " R" << i << " seed " << seed << "\n" << yaml;
      }
    }
  }
  EXPECT_GT(alerts_seen, 100u);  // the streams do make the rules fire and resolve
}

TEST(MergeUpdatesTest, SameResultsAsOneUpdatePerEvent) {
  CompareEngines([](RuleEngineOptions* o) { o->merge_updates = false; });
}

// Each distinct group_by list hashed once per event (the rules sharing it
// read that hash) against every update hashing its rule's group fields: the
// same groups (alerts carry the group hash), alerts and metrics.
TEST(MergeUpdatesTest, SharedGroupHashesSameAsPerUpdate) {
  CompareEngines([](RuleEngineOptions* o) { o->shared_group_hashes = false; });
}

// Counting and max rules' matches gathered per group and chunk (chunk_runs)
// against the per-match updates: the same alerts, samples and metrics, on
// streams with chunks in time order (where the engine gathers them), chunks
// across bucket boundaries, with more groups than it gathers, and out of order.
TEST(MergeUpdatesTest, ChunkRunsSameAsPerMatch) {
  CompareEngines([](RuleEngineOptions* o) { o->chunk_runs = false; }, true);
}

// The group fields' hashes remembered by value (hash_memo) against hashing
// every value: the same groups (alerts carry the group hash), fingerprints,
// alerts and metrics, on values the memo must tell apart by every byte.
TEST(MergeUpdatesTest, HashMemoSameAsHashing) {
  CompareEngines([](RuleEngineOptions* o) { o->hash_memo = false; }, true, true);
}

// The AVX2 code (the chunk's groups found by comparing hashes, the
// conditions' comparisons) against the portable code (RuleEngineOptions::simd):
// the same groups in the same order, so the same updates, alerts and metrics,
// with lists of few and of many groups per chunk (more than the engine gathers).
TEST(MergeUpdatesTest, SimdSameAsPortable) {
  CompareEngines([](RuleEngineOptions* o) { o->simd = false; }, true, true);
}

// Fingerprint keys computed 4 at a time (RuleEngineOptions::hash_lanes,
// AVX-512; KeyChainLanes) against one per match: the same fingerprints, so
// the same alerts and metrics (HashMemoTest.HashLanesSameUpdatesAsOneAtATime
// compares the keys themselves).
TEST(MergeUpdatesTest, HashLanesSameAsOneAtATime) {
  if (!CpuHasHashLanes()) GTEST_SKIP() << "no AVX-512 DQ+VL on this CPU: both engines would take the scalar chain";
  CompareEngines([](RuleEngineOptions* o) { o->hash_lanes = false; }, true, true, true);
}

// The updates of rules whose detector takes every match (payload_size of the
// event's bytes or of a field, duplicate, sum and avg) pushed by a loop made
// for the rule's group, key and value (match_loops) against the generic
// per-match loop: the same updates, so the same alerts, samples and metrics.
TEST(MergeUpdatesTest, MatchLoopsSameAsGenericLoop) {
  CompareEngines([](RuleEngineOptions* o) { o->match_loops = false; }, false, false, true);
  CompareEngines([](RuleEngineOptions* o) { o->match_loops = false; }, true, true, true);
}

// The values of `field:` rules (max, sum, avg, payload_size of field n) read
// from a numeric column the engine asks the condition set for (value_columns)
// against FieldNumber per match: the same numbers, so the same alerts,
// samples and metrics, with n missing, a non-numeric string, negative,
// fractional and past 2^24; in some rule sets no condition compares n (the
// column is then there for the engine alone).
TEST(MergeUpdatesTest, ValueColumnsSameAsFieldNumber) {
  CompareEngines([](RuleEngineOptions* o) { o->value_columns = false; }, false, false, true);
  CompareEngines([](RuleEngineOptions* o) { o->value_columns = false; }, true, true, true);
}

}  // namespace
}  // namespace sluice::detectors
