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
};

}  // namespace sluice::detectors::testing
