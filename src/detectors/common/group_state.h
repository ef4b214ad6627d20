#pragma once
// Saving and loading a detector's GroupTable (issue 6): every group's key and
// state, shard by shard, each shard under its lock. A detector supplies how
// one group's state is written and read; LoadGroups reads everything into a
// scratch list first, so a damaged blob loads nothing.

#include <type_traits>
#include <utility>
#include <vector>

#include "detectors/common/detector.h"
#include "detectors/common/state_io.h"

namespace sluice::detectors {

namespace internal {
inline uint32_t saved_shards_for_test = 0;
}
// Test knob: SaveShards writes as a build of `shards` shards (a power of two
// up to kMaxSavedShards; 0: kShards) would, each entry in the shard its key
// picks there (a snapshot of a 16-shard build, for LoadGroups'
// re-sharding: tests/detectors/state_shards_test.cc).
inline void SetSavedShardsForTest(uint32_t shards) { internal::saved_shards_for_test = shards; }

// The layout of a snapshot's shards: the shard count, then each shard's
// entry count and entries. `for_each(i, fn)` calls fn(key, entry) for every
// entry of this build's shard i, under its lock; `write(key, entry)` writes one
// (key first). Entry counts go in after their entries.
template <typename ForEach, typename Write>
void SaveShards(StateWriter& w, const ForEach& for_each, const Write& write) {
  const uint32_t shards = internal::saved_shards_for_test ? internal::saved_shards_for_test : kShards;
  const int bits = __builtin_ctz(shards);
  w.U32(shards);
  for (size_t j = 0; j < shards; ++j) {
    const size_t at = w.size();
    w.U64(0);
    uint64_t n = 0;
    for (size_t i = 0; i < kShards; ++i) {
      if (shards == kShards && i != j) continue;  // this build's layout: shard j as it is
      for_each(i, [&](uint64_t key, const auto& entry) {
        if (shards != kShards && (bits == 0 ? 0 : key >> (64 - bits)) != j) return;
        write(key, entry);
        ++n;
      });
    }
    w.SetU64(at, n);
  }
}

// save(StateWriter&, const State&), or save(StateWriter&, uint64_t key, const
// State&) for a state with parts kept by key elsewhere (read under the shard's lock).
template <typename State, typename SaveFn>
void SaveGroups(GroupTable<State>& table, StateWriter& w, const SaveFn& save) {
  SaveShards(
      w,
      [&table](size_t i, const auto& fn) {
        auto& s = table.shard(i);
        std::lock_guard<ShardMutex> lock(s.mu);
        for (const auto& [key, state] : s.map) fn(key, state);
      },
      [&](uint64_t key, const State& state) {
        w.U64(key);
        if constexpr (std::is_invocable_v<const SaveFn&, StateWriter&, uint64_t, const State&>) {
          save(w, key, state);
        } else {
          save(w, state);
        }
      });
}

// The shard count a snapshot was written with: any from 1 to kMaxSavedShards
// (a build of another kShards wrote it; its entries are placed by their keys).
inline bool LoadShardCount(StateReader& r, uint32_t* shards) {
  if (!r.U32(shards)) return false;
  return (*shards >= 1 && *shards <= kMaxSavedShards) || r.Fail();
}

// load(StateReader&, State*) -> bool, or load(StateReader&, uint64_t key,
// State*). Returns false (and loads nothing) if the blob is damaged or `load`
// refuses a group (what a keyed `load` kept aside is then the caller's to drop).
// A snapshot of another shard count loads too: every group goes to the shard
// ShardOf(key) picks in this build, under its cap (at the cap, Get evicts as
// Apply would; not counted as an eviction).
template <typename State, typename LoadFn>
bool LoadGroups(GroupTable<State>& table, StateReader& r, const LoadFn& load) {
  uint32_t shards;
  if (!LoadShardCount(r, &shards)) return false;
  std::vector<std::pair<uint64_t, State>> groups;
  for (uint32_t i = 0; i < shards; ++i) {
    uint64_t n;
    if (!r.U64(&n) || n > r.left() / 8) return false;
    for (uint64_t j = 0; j < n; ++j) {
      std::pair<uint64_t, State> g;
      if (!r.U64(&g.first)) return false;
      bool ok;
      if constexpr (std::is_invocable_v<const LoadFn&, StateReader&, uint64_t, State*>) {
        ok = load(r, g.first, &g.second);
      } else {
        ok = load(r, &g.second);
      }
      if (!ok || !r.ok()) return false;
      groups.push_back(std::move(g));
    }
  }
  for (auto& [key, state] : groups) {
    auto& s = table.shard(ShardOf(key));
    std::lock_guard<ShardMutex> lock(s.mu);
    bool created;
    table.Get(s, key, &created, nullptr) = std::move(state);
  }
  return true;
}

// Group label values (CompactString) as a length-prefixed string.
inline void SaveLabels(StateWriter& w, const CompactString& labels) { w.Str(labels.view()); }
inline bool LoadLabels(StateReader& r, CompactString* labels) {
  std::string_view v;
  if (!r.StrView(&v)) return false;
  *labels = v;
  return true;
}

}  // namespace sluice::detectors
