// The duplicate detector looks up a block of updates' fingerprints before it
// applies them (a block ends at the first fingerprint not in the table) against
// update by update (SetDuplicateBlocksForTest(false)): random lists over all
// shards (fingerprints new and known mixed, so that tables grow and rehash
// mid-list; a fingerprint repeated within a block; windows that end; times
// out of order and late) must leave every fingerprint's saved state the same,
// propose the same samples in the same order, count the same late events and
// evaluate to the same results.
//
// Its own binary: the knob is read when a detector is made.

#include <gtest/gtest.h>

#include <random>

#include "detectors/detector_shown.h"
#include "detectors/duplicate/duplicate.h"
#include "detectors/duplicate_pair.h"
#include "detectors/rules_harness.h"

namespace sluice::detectors {
namespace {

using testing::Ev;
using testing::kT0;
using testing::RulesHarness;

// Everything the detector shows: its fingerprints' saved state, its evaluation at `eval_ms`.
std::string Shown(Detector* d, int64_t eval_ms) {
  return testing::SavedByKey(d,
                             [](StateReader& r) {
                               uint64_t group = 0;
                               int64_t first = 0, last = 0;
                               uint32_t count = 0;
                               std::string_view labels;
                               return r.U64(&group) && r.I64(&first) && r.I64(&last) && r.U32(&count) &&
                                      r.StrView(&labels);
                             }) +
         testing::Evaluated(d, eval_ms);
}

TEST(DuplicateBlocksTest, SameAsUpdateByUpdate) {
  // The blocks are the GroupTable layout's (windows too long for FingerprintSlots).
  SetDuplicateSlotsForTest(false);
  size_t samples_seen = 0, late_seen = 0, updates = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    std::mt19937_64 rng(seed);
    const std::string yaml = testing::DuplicateRule(testing::Pick(rng, {"1s", "30s", "5m"}),
                                                    testing::Pick(rng, {"0", "1", "3"}));
    testing::DuplicatePair pair;
    ASSERT_TRUE(pair.Make(yaml, SetDuplicateBlocksForTest, rng));
    int64_t t = kT0;
    for (int round = 0; round < 30; ++round) {
      std::vector<Update> lists[kShards];
      updates += pair.RandomLists(rng, round, /*repeats=*/true, &t, lists);
      std::vector<SampleCandidate> sa, sb;
      pair.a->ApplyShards(lists, *pair.batch, &sa);
      pair.b->ApplyShards(lists, *pair.batch, &sb);
      ASSERT_TRUE(testing::SameSamples(sa, sb)) << "seed " << seed << " round " << round;
      samples_seen += sa.size();
      const double late = pair.on.Metric("sluice_rule_late_events_total", "D");
      ASSERT_EQ(late, pair.off.Metric("sluice_rule_late_events_total", "D")) << "seed " << seed;
      late_seen = static_cast<size_t>(late);
      // Evaluate now and then (it expires fingerprints: erasures between lists).
      const int64_t eval = rng() % 4 == 0 ? t : kT0;
      ASSERT_EQ(Shown(pair.a, eval), Shown(pair.b, eval)) << "seed " << seed << " round " << round;
    }
  }
  EXPECT_GT(samples_seen, 10'000u);
  EXPECT_GT(late_seen, 0u);
  EXPECT_GT(updates, 500'000u);
  SetDuplicateSlotsForTest(true);
}

}  // namespace
}  // namespace sluice::detectors
