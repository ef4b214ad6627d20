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

// save(StateWriter&, const State&), or save(StateWriter&, uint64_t key, const
// State&) for a state with parts kept by key elsewhere (read under the shard's lock).
template <typename State, typename SaveFn>
void SaveGroups(GroupTable<State>& table, StateWriter& w, const SaveFn& save) {
  w.U32(static_cast<uint32_t>(kShards));
  for (size_t i = 0; i < kShards; ++i) {
    auto& s = table.shard(i);
    std::lock_guard<ShardMutex> lock(s.mu);
    w.U64(s.map.size());
    for (const auto& [key, state] : s.map) {
      w.U64(key);
      if constexpr (std::is_invocable_v<const SaveFn&, StateWriter&, uint64_t, const State&>) {
        save(w, key, state);
      } else {
        save(w, state);
      }
    }
  }
}

// load(StateReader&, State*) -> bool, or load(StateReader&, uint64_t key,
// State*). Returns false (and loads nothing) if the blob is damaged or `load`
// refuses a group (what a keyed `load` kept aside is then the caller's to drop).
template <typename State, typename LoadFn>
bool LoadGroups(GroupTable<State>& table, StateReader& r, const LoadFn& load) {
  uint32_t shards;
  if (!r.U32(&shards) || shards != kShards) return false;
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
