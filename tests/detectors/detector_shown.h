#pragma once
// What a detector shows, as comparable text, for tests that run one stream
// through two detectors made alike but for a test knob: its saved groups
// (SaveGroups' layout) by key, and its evaluation.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "common/strings.h"
#include "detectors/common/detector.h"

namespace sluice::detectors::testing {

// Each group's saved bytes by key, one line each (a shard's groups are saved
// in its table's order, which differs between two tables: absl salts it with
// the table's address). `skip(StateReader&)` reads one group's state past its key.
template <typename Skip>
std::string SavedByKey(Detector* d, const Skip& skip) {
  StateWriter w;
  d->SaveState(w);
  const std::string_view blob = w.buffer();
  StateReader r(w.buffer());
  std::map<uint64_t, std::string_view> groups;
  uint32_t shards = 0;
  EXPECT_TRUE(r.U32(&shards));
  for (uint32_t s = 0; s < shards; ++s) {
    uint64_t n = 0;
    EXPECT_TRUE(r.U64(&n));
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t key = 0;
      EXPECT_TRUE(r.U64(&key));
      const size_t from = blob.size() - r.left();
      EXPECT_TRUE(skip(r));
      groups[key] = blob.substr(from, blob.size() - r.left() - from);
    }
  }
  std::string out;
  for (const auto& [key, bytes] : groups) StrAppend(&out, key, ":", bytes, "\n");
  return out;
}

// Evaluate(eval_ms)'s groups, one line each, sorted.
inline std::string Evaluated(Detector* d, int64_t eval_ms) {
  std::vector<GroupResult> active;
  d->Evaluate(eval_ms, &active);
  std::vector<std::string> rows;
  for (const GroupResult& g : active) {
    std::string row = StrCat(g.group, " ", g.value, " ", g.threshold);
    for (const auto& [k, v] : g.labels) StrAppend(&row, " ", k, "=", v);
    for (const auto& [k, v] : g.evidence) StrAppend(&row, " ", k, "=", v);
    rows.push_back(row);
  }
  std::sort(rows.begin(), rows.end());
  std::string out;
  for (const auto& row : rows) StrAppend(&out, row, "\n");
  return out;
}

// The samples two detectors proposed: the same, in the same order.
inline ::testing::AssertionResult SameSamples(const std::vector<SampleCandidate>& a,
                                              const std::vector<SampleCandidate>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << a.size() << " samples against " << b.size();
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].group != b[i].group || a[i].event != b[i].event) {
      return ::testing::AssertionFailure() << "sample " << i << " differs";
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace sluice::detectors::testing
