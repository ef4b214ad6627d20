// GroupTable (detectors/common/detector.h): a shard at its cap evicts the
// least recently seen of the 8 entries that follow the 8 it probed last in
// the table's order, so that the eviction goes round the whole table: a shard fed
// new groups without end keeps no old group long, never evicts a group it
// keeps seeing, never holds more than its cap, and counts every eviction.
// Below the cap a group is found or inserted by one probe, as the look-up
// then insertion did. Its shards' ShardMutex excludes.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "detectors/common/detector.h"

namespace sluice::detectors {
namespace {

struct Entry {
  int64_t last_seen = 0;
  int64_t created_at = 0;
};

uint64_t Key(uint64_t i) { return (i + 1) * 0x9E3779B97F4A7C15ull; }

// New groups at times 0, 1, 2, ... into one shard of cap `cap`, and one hot
// group seen again after each of them.
TEST(GroupTableTest, EvictionGoesRoundTheTable) {
  for (size_t cap : {1u, 2u, 7u, 8u, 9u, 100u, 6250u}) {
    MetricsRegistry metrics;
    Counter* evictions = metrics.GetCounter("evictions", "", {});
    GroupTable<Entry> table(cap * kShards);
    auto& s = table.shard(3 % kShards);  // any shard, whatever kShards is
    const uint64_t hot = 12345;
    const int64_t n = static_cast<int64_t>(cap) * 30 + 50;
    int64_t created = 0;
    size_t max_age = 0;
    for (int64_t t = 0; t < n; ++t) {
      bool is_new;
      Entry& e = table.Get(s, Key(static_cast<uint64_t>(t)), &is_new, evictions);
      ASSERT_TRUE(is_new);
      e.last_seen = e.created_at = t;
      created++;
      ASSERT_LE(s.map.size(), cap);
      if (cap >= 2) {
        Entry& h = table.Get(s, hot, &is_new, evictions);
        // Created once, then never evicted: always the most recently seen.
        ASSERT_EQ(is_new, t == 0) << "cap " << cap << " t " << t;
        h.last_seen = t + 1;  // newer than any other entry
      }
      if (t >= static_cast<int64_t>(cap) * 10) {
        for (const auto& [k, v] : s.map) {
          if (k != hot) max_age = std::max<size_t>(max_age, static_cast<size_t>(t - v.created_at));
        }
      }
    }
    const size_t inserted = static_cast<size_t>(created) + (cap >= 2 ? 1 : 0);
    EXPECT_EQ(evictions->value(), inserted - cap) << cap;
    EXPECT_EQ(s.map.size(), cap);
    // No group outlives a few rounds of the table (with the first 8 entries
    // probed every time, groups at the back of a 6250-entry shard stayed
    // for ever).
    EXPECT_LE(max_age, 4 * cap + 16) << "cap " << cap;
    std::printf("cap %zu: oldest entry %zu insertions old\n", cap, max_age);
  }
}

// Against a model of the rule, at random: keys new or seen again, times
// that go back and forth, caps from 1 to 40. Whenever a new key meets a full
// shard, the one entry gone is the least recently seen (the first of equals)
// of the 8 that follow, in the table's order before the insertion, the 8
// probed last (the first entry at the start, or when that one is gone),
// wrapping round.
TEST(GroupTableTest, EvictsAsTheSweepModel) {
  std::mt19937_64 rng(7);
  size_t evictions = 0;
  for (size_t cap : {1u, 2u, 5u, 8u, 9u, 16u, 40u}) {
    GroupTable<Entry> table(cap * kShards);
    auto& s = table.shard(9 % kShards);
    std::vector<uint64_t> seen;
    for (int step = 0; step < 4000; ++step) {
      const bool again = !seen.empty() && rng() % 3 == 0;
      const uint64_t key = again ? seen[rng() % seen.size()] : Key(rng() % 1'000'000);
      std::vector<std::pair<uint64_t, int64_t>> before;  // table order
      for (const auto& [k, v] : s.map) before.emplace_back(k, v.last_seen);
      const bool full = before.size() >= cap && !s.map.contains(key);
      size_t start = 0;
      if (s.has_sweep) {
        for (size_t i = 0; i < before.size(); ++i) {
          if (before[i].first == s.sweep) start = i;
        }
      }
      bool is_new;
      Entry& e = table.Get(s, key, &is_new, nullptr);
      e.last_seen = static_cast<int64_t>(rng() % 500);
      if (is_new) seen.push_back(key);
      ASSERT_LE(s.map.size(), cap);
      if (!full) {
        ASSERT_EQ(s.map.size(), before.size() + (is_new ? 1 : 0));
        continue;
      }
      ++evictions;
      size_t victim = start;
      for (size_t k = 0; k < 8; ++k) {
        const size_t i = (start + k) % before.size();
        if (before[i].second < before[victim].second) victim = i;
      }
      for (size_t i = 0; i < before.size(); ++i) {
        ASSERT_EQ(s.map.contains(before[i].first), i != victim) << "cap " << cap << " step " << step;
      }
      size_t next = (start + 8) % before.size();
      if (next == victim) next = (next + 1) % before.size();
      ASSERT_EQ(s.has_sweep, next != victim);
      if (next != victim) {
        ASSERT_EQ(s.sweep, before[next].first);
      }
    }
  }
  EXPECT_GT(evictions, 10'000u);
}

// Below the cap: found or created, the same entry back.
TEST(GroupTableTest, FindsOrCreatesBelowTheCap) {
  GroupTable<Entry> table(1000 * kShards);
  auto& s = table.shard(5 % kShards);
  for (uint64_t i = 0; i < 1000; ++i) {
    bool is_new;
    table.Get(s, Key(i), &is_new, nullptr).created_at = static_cast<int64_t>(i);
    ASSERT_TRUE(is_new);
  }
  for (uint64_t i = 0; i < 1000; ++i) {
    bool is_new;
    EXPECT_EQ(table.Get(s, Key(i), &is_new, nullptr).created_at, static_cast<int64_t>(i));
    EXPECT_FALSE(is_new);
  }
  EXPECT_EQ(s.map.size(), 1000u);
}

// ShardMutex: threads that add to a plain counter under it, taking it by
// lock() and try_lock() (held long enough now and then for a waiter to spin
// and yield), lose no addition; a held lock refuses try_lock.
TEST(GroupTableTest, ShardMutexExcludes) {
  ShardMutex mu;
  uint64_t counter = 0;
  constexpr int kThreads = 4, kAdds = 200'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAdds; ++i) {
        if ((i + t) % 3 == 0) {
          while (!mu.try_lock()) {
          }
        } else {
          mu.lock();
        }
        const uint64_t seen = counter;
        if (i % 20'000 == 0) std::this_thread::yield();
        counter = seen + 1;
        mu.unlock();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(counter, uint64_t{kThreads} * kAdds);
  mu.lock();
  EXPECT_FALSE(mu.try_lock());
  mu.unlock();
  EXPECT_TRUE(mu.try_lock());
  mu.unlock();
}

// A hold long enough for the waiter to pass its spins and yields and sleep
// (a Tick or a snapshot walking a large table): the waiter gets the lock only
// once the holder gave it back, and sees what the holder wrote.
TEST(GroupTableTest, ShardMutexWaiterThroughALongHold) {
  ShardMutex mu;
  std::atomic<bool> held{false};
  int value = 0;
  mu.lock();
  std::thread waiter([&] {
    held.store(true);
    mu.lock();
    EXPECT_EQ(value, 42);
    value = 43;
    mu.unlock();
  });
  while (!held.load()) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  value = 42;
  mu.unlock();
  waiter.join();
  EXPECT_EQ(value, 43);
}

}  // namespace
}  // namespace sluice::detectors
