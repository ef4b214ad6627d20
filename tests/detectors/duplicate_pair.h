#pragma once
// Two engines with the same duplicate rule `D` (group_by [u], fingerprint
// [f]), each made under its own setting of one of the detector's test knobs,
// and what random update lists for them need: a batch whose event i has
// u = "u<i>" (the new fingerprints' group labels), up to 16 groups and up to
// 6000 fingerprints (duplicate_blocks_test, duplicate_slots_test).

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "detectors/rules_harness.h"

namespace sluice::detectors::testing {

inline std::string DuplicateRule(const std::string& window, const std::string& max_repeats) {
  return StrCat("rules:\n  - name: D\n    type: duplicate\n    match: {u: {exists: true}}\n    group_by: [u]\n",
                "    fingerprint: [f]\n    window: ", window, "\n    max_repeats: ", max_repeats, "\n");
}

struct DuplicatePair {
  RulesHarness on, off;  // made with knob(true), knob(false)
  Detector* a = nullptr;  // on's
  Detector* b = nullptr;  // off's
  std::shared_ptr<Batch> batch;
  std::vector<uint64_t> groups, fps;

  // Leaves the knob on.
  ::testing::AssertionResult Make(const std::string& yaml, void (*knob)(bool), std::mt19937_64& rng) {
    knob(true);
    if (!on.Load(yaml).ok()) return ::testing::AssertionFailure() << on.errors.ToString();
    knob(false);
    const bool off_ok = off.Load(yaml).ok();
    knob(true);
    if (!off_ok) return ::testing::AssertionFailure() << off.errors.ToString();
    a = on.engine->detector("D");
    b = off.engine->detector("D");
    std::vector<std::string> evs;
    for (int i = 0; i < 16; ++i) evs.push_back(Ev(kT0, StrCat(R"("u":"u)", i, R"(")")));
    batch = on.MakeBatch(evs);
    groups.resize(1 + rng() % 16);
    fps.resize(1 + rng() % 6000);
    for (auto& g : groups) g = rng();
    for (auto& f : fps) f = rng();
    return ::testing::AssertionSuccess();
  }

  // Round `round`'s random update lists over all shards (1 to 2000 updates;
  // returns how many): fingerprints known so far and some new (the pool is
  // taken from the front as rounds go on), time moving on from *t, now and
  // then far back (late, or a new first). `repeats`: now and then the same
  // fingerprint again at once; else now and then far ahead (a window over:
  // the span starts again).
  size_t RandomLists(std::mt19937_64& rng, int round, bool repeats, int64_t* t, std::vector<Update>* lists) const {
    const size_t known = std::min(fps.size(), 1 + fps.size() * static_cast<size_t>(round + 1) / 20);
    const int nupdates = 1 + static_cast<int>(rng() % 2000);
    uint64_t last_key = fps[0];
    for (int k = 0; k < nupdates; ++k) {
      Update up{};
      const size_t g = rng() % groups.size();
      up.group = groups[g];
      up.event = static_cast<uint32_t>(g);
      up.key = repeats && rng() % 8 == 0 ? last_key : fps[rng() % known];
      last_key = up.key;
      *t += static_cast<int64_t>(rng() % 40);
      if (repeats) {
        up.ts = *t - (rng() % 10 == 0 ? static_cast<int64_t>(rng() % 400'000) : 0);
      } else {
        const int r = static_cast<int>(rng() % 20);
        up.ts = r == 0   ? *t - static_cast<int64_t>(rng() % 400'000)
                : r == 1 ? *t + static_cast<int64_t>(rng() % 8'000'000)
                         : *t;
      }
      up.ts_last = up.ts;
      up.count = 1;
      up.value = 1;
      lists[ShardOf(up.key)].push_back(up);
    }
    return static_cast<size_t>(nupdates);
  }
};

}  // namespace sluice::detectors::testing
