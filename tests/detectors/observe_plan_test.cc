// RuleEngine::Observe's loop over the rules reads each rule's constants from
// the engine's plan (RulePlan, built by IndexRules at Load and TakeOver) and
// skips a rule whose conditions match no valid event of the chunk. Against
// an engine fed the same events one per batch (every match then in the first
// word of its own chunk): the same matches counted, the same alerts and
// values (not the same samples: those follow the batches), for matches placed in each word of each chunk of a batch, many
// (chunk runs) or few (per match), for every kind of rule the plan describes
// (count, max of a field, sum of a field, event sizes, fingerprints).

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "detectors/rules_harness.h"

namespace sluice::detectors {
namespace {

using testing::Ev;
using testing::kT0;
using testing::RulesHarness;
using testing::SameRuleMetrics;

// The alerts `sink` got (clearing it), sorted, without their samples: which
// events an alert keeps follows the batches (the sample store's choice per
// Apply).
std::vector<std::string> AlertsWithoutSamples(testing::CaptureAlertSink& sink) {
  std::vector<std::string> out;
  for (Alert a : sink.alerts()) {
    a.rule_file.clear();
    a.samples.clear();
    out.push_back(StrCat(AlertToJson(a), " value=", a.value, " group=", a.group));
  }
  sink.Clear();
  std::sort(out.begin(), out.end());
  return out;
}

constexpr const char* kRules = R"(rules:
  - name: Count
    type: threshold
    match: {k: m}
    group_by: [svc]
    window: 1m
    above: 2
  - name: Max
    type: threshold
    match: {k: m}
    group_by: [svc]
    field: v
    aggregate: max
    window: 1m
    above: 3
  - name: Sum
    type: threshold
    match: {k: m}
    group_by: [host]
    field: v
    aggregate: sum
    window: 1m
    above: 10
  - name: Sizes
    type: payload_size
    match: {k: m}
    group_by: [svc]
    factor: 2
    min_samples: 3
  - name: Repeats
    type: duplicate
    match: {k: m}
    group_by: [svc]
    fingerprint: [host, v]
    window: 1m
    max_repeats: 1
  - name: Never
    type: threshold
    match: {k: never}
    group_by: [svc]
    window: 1m
    above: 0
)";

const char* const kRuleNames[] = {"Count", "Max", "Sum", "Sizes", "Repeats", "Never"};

constexpr int kChunk = static_cast<int>(ConditionSet::kChunk);
constexpr int kWords = static_cast<int>(ConditionSet::kWords);
constexpr int kBatch = 4 * kChunk;

// A batch of 4 chunks whose matches all lie in word `word` of chunk `chunk`:
// every `step`-th event there (step 3: ~21 matches, the chunk runs; step 23:
// 3, the per-match path).
std::vector<std::string> Events(int64_t t0, int chunk, int word, int step, int* matches) {
  std::vector<std::string> evs;
  for (int i = 0; i < kBatch; ++i) {
    const int j = i % kChunk, w = j / 64;
    const bool match = i / kChunk == chunk && w == word && (j % 64) % step == 0;
    *matches += match;
    const std::string svc = i % 3 == 0 ? "a" : "b";
    const std::string pad(static_cast<size_t>(i % 5 == 0 ? 200 : 10), 'x');
    evs.push_back(Ev(t0 + i * 10, StrCat("\"k\":\"", match ? "m" : "n", "\",\"svc\":\"", svc, "\",\"host\":\"h",
                                         i % 4, "\",\"v\":", i % 7, ",\"pad\":\"", pad, "\"")));
  }
  return evs;
}

TEST(ObservePlanTest, MatchesInEveryWordOfEveryChunkAsOnePerBatch) {
  RulesHarness h[2];
  for (auto& x : h) ASSERT_TRUE(x.Load(kRules).ok()) << x.errors.ToString();
  size_t seen = 0;
  int expected = 0;
  int64_t t = kT0;
  for (int step : {3, 23}) {
    for (int chunk = 0; chunk < 4; ++chunk) {
      for (int word = 0; word < kWords; ++word) {
        const std::vector<std::string> evs = Events(t, chunk, word, step, &expected);
        for (const std::string& e : evs) h[0].Feed({e});
        h[1].Feed(evs);
        t += 10 * kBatch;  // events 10 ms apart
        for (auto& x : h) x.engine->Tick(t);
        const std::vector<std::string> a0 = AlertsWithoutSamples(h[0].sink);
        seen += a0.size();
        ASSERT_EQ(AlertsWithoutSamples(h[1].sink), a0) << "step " << step << " chunk " << chunk << " word " << word;
        for (const char* r : kRuleNames) ASSERT_TRUE(SameRuleMetrics(h, 2, r)) << r;
        for (const char* r : {"Count", "Max", "Sum", "Sizes", "Repeats"}) {
          ASSERT_EQ(h[1].Metric("sluice_rule_events_matched_total", r), expected) << r;
        }
        ASSERT_EQ(h[1].Metric("sluice_rule_events_matched_total", "Never"), 0);
      }
    }
  }
  EXPECT_GT(seen, 0u);
}

}  // namespace
}  // namespace sluice::detectors
