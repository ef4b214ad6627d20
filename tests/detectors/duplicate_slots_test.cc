// The duplicate detector's fingerprints in FingerprintSlots (32-byte slots,
// first kept as a span back from last_seen) against the GroupTable layout it
// replaced (SetDuplicateSlotsForTest(false)): random update lists over all
// shards, below the cap (new and known fingerprints, tables that grow, windows
// that end and start again, times out of order and late, evaluations that
// expire fingerprints and leave erased slots) must leave every fingerprint's
// saved state the same, propose the same samples in the same order, count the
// same late events and evaluate to the same results; and each layout loads the
// other's saved state. FingerprintSlots itself against a std::map, and its
// eviction's sweep.
//
// Its own binary: the knob is read when a detector is made.

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <tuple>
#include <unordered_map>

#include "detectors/detector_shown.h"
#include "detectors/duplicate/duplicate.h"
#include "detectors/duplicate/fingerprint_slots.h"
#include "detectors/duplicate_pair.h"
#include "detectors/rules_harness.h"

namespace sluice::detectors {
namespace {

using testing::Ev;
using testing::kT0;
using testing::RulesHarness;

bool SkipFingerprint(StateReader& r) {
  uint64_t group = 0;
  int64_t first = 0, last = 0;
  uint32_t count = 0;
  std::string_view labels;
  return r.U64(&group) && r.I64(&first) && r.I64(&last) && r.U32(&count) && r.StrView(&labels);
}

std::string Saved(Detector* d) { return testing::SavedByKey(d, SkipFingerprint); }

using testing::DuplicateRule;

TEST(DuplicateSlotsTest, SameAsGroupTable) {
  size_t samples_seen = 0, late_seen = 0, updates = 0, expired = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    std::mt19937_64 rng(seed);
    const std::string window = testing::Pick(rng, {"1s", "30s", "5m", "2h"});
    const std::string yaml = DuplicateRule(window, testing::Pick(rng, {"0", "1", "3"}));
    testing::DuplicatePair pair;
    ASSERT_TRUE(pair.Make(yaml, SetDuplicateSlotsForTest, rng));
    int64_t t = kT0;
    for (int round = 0; round < 30; ++round) {
      std::vector<Update> lists[kShards];
      updates += pair.RandomLists(rng, round, /*repeats=*/false, &t, lists);
      std::vector<SampleCandidate> sa, sb;
      // The slots' ApplyShards (a prefetch across shards) and their Apply shard by shard in turn.
      if (round % 2 == 0) {
        pair.a->ApplyShards(lists, *pair.batch, &sa);
      } else {
        for (size_t s = 0; s < kShards; ++s) {
          if (!lists[s].empty()) pair.a->Apply(s, lists[s].data(), lists[s].size(), *pair.batch, &sa);
        }
      }
      pair.b->ApplyShards(lists, *pair.batch, &sb);
      ASSERT_TRUE(testing::SameSamples(sa, sb)) << "seed " << seed << " round " << round;
      samples_seen += sa.size();
      const double late = pair.on.Metric("sluice_rule_late_events_total", "D");
      ASSERT_EQ(late, pair.off.Metric("sluice_rule_late_events_total", "D")) << "seed " << seed;
      late_seen = static_cast<size_t>(late);
      ASSERT_EQ(pair.a->groups(), pair.b->groups()) << "seed " << seed << " round " << round;
      // Evaluate now and then (it expires fingerprints: erased slots between lists).
      const int64_t eval = rng() % 4 == 0 ? t : kT0;
      const size_t before = pair.b->groups();
      ASSERT_EQ(Saved(pair.a), Saved(pair.b)) << "seed " << seed << " round " << round;
      ASSERT_EQ(testing::Evaluated(pair.a, eval), testing::Evaluated(pair.b, eval)) << "seed " << seed << " round " << round;
      expired += before - pair.b->groups();
    }
    // Each layout's saved state loads into the other.
    SetDuplicateSlotsForTest(false);
    RulesHarness table2;
    ASSERT_TRUE(table2.Load(yaml).ok());
    SetDuplicateSlotsForTest(true);
    RulesHarness slots2;
    ASSERT_TRUE(slots2.Load(yaml).ok());
    ASSERT_TRUE(testing::CopyRuleState(pair.on, table2, "D"));
    ASSERT_TRUE(testing::CopyRuleState(pair.off, slots2, "D"));
    ASSERT_EQ(Saved(table2.engine->detector("D")), Saved(pair.b)) << "seed " << seed;
    ASSERT_EQ(Saved(slots2.engine->detector("D")), Saved(pair.a)) << "seed " << seed;
  }
  EXPECT_GT(samples_seen, 10'000u);
  EXPECT_GT(late_seen, 0u);
  EXPECT_GT(updates, 500'000u);
  EXPECT_GT(expired, 10'000u);
}

// A window too long for a slot's span goes to the GroupTable layout; both
// count repeats far apart in it alike.
TEST(DuplicateSlotsTest, WindowsBeyondSlotsUseTheTable) {
  for (const char* window : {"49d", "50d"}) {
    RulesHarness h;
    ASSERT_TRUE(h.Load(DuplicateRule(window, "1")).ok()) << h.errors.ToString();
    const int64_t day = 86'400'000;
    h.Feed({Ev(kT0, R"("u":"a","f":"x")"), Ev(kT0 + 48 * day, R"("u":"a","f":"x")")});
    std::vector<GroupResult> active;
    h.engine->detector("D")->Evaluate(kT0 + 48 * day, &active);
    ASSERT_EQ(active.size(), 1u) << window;
    EXPECT_EQ(active[0].value, 2) << window;
  }
}

// A saved fingerprint whose span a slot cannot hold (not one this rule
// saved) is refused: nothing loads.
TEST(DuplicateSlotsTest, RefusesSpansBeyondSlots) {
  StateWriter w;
  w.U32(static_cast<uint32_t>(kShards));
  for (size_t s = 0; s < kShards; ++s) {
    w.U64(s == 3 ? 1 : 0);
    if (s != 3) continue;
    w.U64(uint64_t{3} << 60);
    w.U64(7);
    w.I64(kT0);
    w.I64(kT0 + (int64_t{1} << 33));
    w.U32(2);
    w.Str("a");
  }
  RulesHarness h;
  ASSERT_TRUE(h.Load(DuplicateRule("1m", "1")).ok());
  StateReader r(w.buffer());
  EXPECT_FALSE(h.engine->detector("D")->LoadState(r));
  EXPECT_EQ(h.engine->detector("D")->groups(), 0u);
}

// FingerprintSlots against a std::map: inserts, finds, erases (as Evaluate's
// expiry: while iterating), evictions and compactions in random order.
TEST(FingerprintSlotsTest, SameAsMap) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    FingerprintSlots slots;
    std::map<uint64_t, int64_t> model;  // key -> last_seen
    std::vector<uint64_t> keys(1 + rng() % 3000);
    for (auto& k : keys) k = rng() % 4 == 0 ? keys[0] + rng() % 64 : rng();  // some neighbours
    for (int op = 0; op < 20'000; ++op) {
      const uint64_t key = keys[rng() % keys.size()];
      const int what = static_cast<int>(rng() % 100);
      if (what < 80) {
        FingerprintSlot* s = slots.Find(key);
        ASSERT_EQ(s != nullptr, model.count(key) != 0) << "seed " << seed << " op " << op;
        if (!s) {
          s = slots.Insert(key);
          ASSERT_EQ(s->key, key);
          s->span = 0;
          s->count = 1;
        }
        s->last_seen = op;
        model[key] = op;
      } else if (what < 85 && slots.size() > 0) {
        // A new key in place of others (at the cap), with or without a slack.
        uint64_t fresh = rng();
        if (model.count(fresh)) continue;
        const size_t size = slots.size();
        const size_t low = size - std::min<size_t>(size - 1, rng() % 3);
        const size_t high = size + rng() % 2;
        uint32_t evicted = 9;
        FingerprintSlot* s = slots.InsertEvicting(fresh, low, high, &evicted);
        ASSERT_EQ(s->key, fresh);
        ASSERT_EQ(s->count, 0u);
        s->count = 1;
        s->last_seen = op;
        ASSERT_LE(evicted, 2u);
        ASSERT_EQ(slots.size(), size + 1 - evicted);
        ASSERT_GE(slots.size(), low);
        ASSERT_LE(slots.size(), high);
        size_t lost = 0;
        for (auto it = model.begin(); it != model.end();) {
          if (slots.Find(it->first)) {
            ++it;
          } else {
            it = model.erase(it);
            ++lost;
          }
        }
        ASSERT_EQ(lost, evicted) << "seed " << seed << " op " << op;
        model[fresh] = op;
      } else if (what < 90 && slots.size() > 0) {
        slots.EvictOne();
        ASSERT_EQ(slots.size() + 1, model.size());
        // The evicted one is whichever the model has that the table lost.
        for (auto it = model.begin(); it != model.end();) {
          it = slots.Find(it->first) ? std::next(it) : model.erase(it);
        }
      } else if (what < 99) {
        const int64_t older = op - static_cast<int64_t>(rng() % 5000);
        slots.ForEach([&](FingerprintSlot& s) {
          if (s.last_seen < older) slots.Erase(&s);
        });
        std::erase_if(model, [&](const auto& kv) { return kv.second < older; });
        slots.Compact();
      } else if (slots.size() > 0) {
        slots.DropErased();
      }
      ASSERT_EQ(slots.size(), model.size()) << "seed " << seed << " op " << op;
      ASSERT_LE(slots.size() * 4, slots.capacity() * 3);
    }
    std::map<uint64_t, int64_t> seen;
    slots.ForEach([&](FingerprintSlot& s) { seen[s.key] = s.last_seen; });
    EXPECT_EQ(seen, model) << "seed " << seed;
  }
}

// Eviction takes the least recently seen of the 8 live slots after the last
// ones probed: an old fingerprint among new ones goes within size / 8 + 1
// evictions, and every one is probed in turn (none left behind).
TEST(FingerprintSlotsTest, EvictionSweepsTheTable) {
  FingerprintSlots slots;
  std::mt19937_64 rng(7);
  std::vector<uint64_t> keys(800);
  for (auto& k : keys) {
    k = rng();
    FingerprintSlot* s = slots.Insert(k);
    s->last_seen = 1000;
    s->count = 1;
  }
  for (int round = 0; round < 5; ++round) {
    const uint64_t old = keys[rng() % keys.size()];
    if (!slots.Find(old)) continue;
    slots.Find(old)->last_seen = 1;
    const size_t before = slots.size();
    size_t evictions = 0;
    while (slots.Find(old)) {
      slots.EvictOne();
      ++evictions;
      ASSERT_LE(evictions, before / 8 + 1) << "round " << round;
    }
    EXPECT_EQ(slots.size(), before - evictions);
  }
}

// InsertEvicting at the cap, its outcome read off the key's block before
// the call: the least recently seen live slot of the block (the first on a
// tie; none lies past a free slot) is replaced in place, and when size() >
// low the live slot right before the block's first free slot gives way too;
// when the block holds none, the key is inserted (size() < high) or
// EvictOne's victim gives way. No erased marker is added but by EvictOne.
// Tables at ~38% live slots as at the cap (a stream of new keys), with
// erased slots from erasures, times with ties or spread, with and without a
// slack.
TEST(FingerprintSlotsTest, InsertEvictingTakesTheOldestOfTheBlock) {
  size_t replaced = 0, shrunk = 0, grown = 0, swept = 0;
  for (uint64_t seed = 1; seed <= 24; ++seed) {
    std::mt19937_64 rng(seed);
    FingerprintSlots slots;
    const size_t high = std::vector<size_t>{5, 100, 1000, 25000}[seed % 4];
    const size_t low = seed % 3 == 0 ? high : high - high / 64 - (seed % 3 == 1);
    std::unordered_map<uint64_t, int64_t> kept;  // key -> last_seen
    auto erased = [&] {
      size_t n = 0;
      for (size_t i = 0; i < slots.capacity(); ++i) n += slots.at(i).span == FingerprintSlot::kErased;
      return n;
    };
    for (int step = 0; step < 8000; ++step) {
      const uint64_t key = rng();
      const int64_t ts = seed % 2 ? static_cast<int64_t>(rng() % 4) : static_cast<int64_t>(rng() % 100000);
      if (rng() % 16 == 0 && !kept.empty()) {
        const uint64_t k = std::next(kept.begin(), static_cast<long>(rng() % kept.size()))->first;
        slots.Erase(slots.Find(k));
        kept.erase(k);
      }
      FingerprintSlot* f;
      if (slots.size() < low) {
        f = slots.Insert(key);
      } else {
        const size_t h = slots.HomeOf(key);
        const FingerprintSlot* reached = nullptr;
        const FingerprintSlot* beyond = nullptr;
        const FingerprintSlot* last = nullptr;  // live, right before the first free slot
        bool free_seen = false;
        for (size_t k = 0; k < FingerprintSlots::kBlock; ++k) {
          const FingerprintSlot& s = slots.at((h + k) % slots.capacity());
          if (s.span == FingerprintSlot::kFree) {
            if (!free_seen && k > 0 && slots.at((h + k - 1) % slots.capacity()).live()) {
              last = &slots.at((h + k - 1) % slots.capacity());
            }
            free_seen = true;
          } else if (s.live()) {
            const FingerprintSlot*& o = free_seen ? beyond : reached;
            if (!o || s.last_seen < o->last_seen) o = &s;
          }
        }
        ASSERT_EQ(beyond, nullptr) << "a live slot past a free one in its block";
        const uint64_t kr = reached ? reached->key : 0, kl = last ? last->key : 0;
        const FingerprintSlot* at_reached = reached;
        const size_t before = slots.size(), markers = erased();
        uint32_t evicted = 9;
        f = slots.InsertEvicting(key, low, high, &evicted);
        if (reached) {
          ASSERT_EQ(f, at_reached) << "seed " << seed << " step " << step;
          ASSERT_EQ(kept.erase(kr), 1u);
          if (before > low && last && last != at_reached) {
            ASSERT_EQ(evicted, 2u);
            ASSERT_EQ(kept.erase(kl), 1u);
            ++shrunk;
          } else {
            ASSERT_EQ(evicted, 1u);
          }
          ASSERT_EQ(erased(), markers);
          ++replaced;
        } else if (before < high) {
          ASSERT_EQ(evicted, 0u);
          ASSERT_LE(erased(), markers);
          ++grown;
        } else {
          ASSERT_EQ(evicted, 1u);
          for (auto it = kept.begin(); it != kept.end(); ++it) {
            if (!slots.Find(it->first)) {
              kept.erase(it);
              break;
            }
          }
          ++swept;
        }
        ASSERT_EQ(slots.size(), before + 1 - evicted);
        ASSERT_GE(slots.size(), low);
      }
      ASSERT_EQ(f->key, key);
      f->last_seen = ts;
      f->count = 1;
      kept[key] = ts;
      ASSERT_EQ(slots.Find(key), f);
      ASSERT_LE(slots.size(), high);
      ASSERT_EQ(slots.size(), kept.size()) << "seed " << seed << " step " << step;
    }
    // Every key kept is still found where its probe looks, before and after
    // the markers are dropped.
    for (int pass = 0; pass < 2; ++pass) {
      for (const auto& [key, ts] : kept) {
        const FingerprintSlot* f = slots.Find(key);
        ASSERT_NE(f, nullptr) << "seed " << seed << " pass " << pass;
        ASSERT_EQ(f->last_seen, ts);
      }
      slots.DropErased();
      ASSERT_EQ(erased(), 0u);
    }
  }
  EXPECT_GT(replaced, 20000u);
  EXPECT_GT(shrunk, 1000u);
  EXPECT_GT(grown, 1000u);
  EXPECT_GT(swept, 10u);
}

// Keys of one home block beyond the block's 4 slots: placed past it, found
// there (Find goes past a full block only when its overflow bit says a key
// of that home was placed past it), through an erasure and DropErased (the
// table keeps its 32 slots throughout); a block that never overflowed is not
// marked.
TEST(FingerprintSlotsTest, KeysPastTheirFullBlockAreFound) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    FingerprintSlots slots;
    std::vector<uint64_t> others;
    for (int i = 0; i < 14; ++i) others.push_back(rng());
    for (uint64_t k : others) slots.Insert(k)->last_seen = 1;  // capacity 32
    ASSERT_EQ(slots.capacity(), 32u);
    const size_t home = slots.HomeOf(rng());
    std::vector<uint64_t> same;  // keys of that home
    while (same.size() < 6) {
      const uint64_t k = rng();
      if (slots.HomeOf(k) == home && !slots.Find(k)) same.push_back(k);
    }
    for (size_t i = 0; i < same.size(); ++i) {
      const bool was_full = [&] {
        for (size_t k = 0; k < FingerprintSlots::kBlock; ++k) {
          if (!slots.at(home + k).live()) return false;
        }
        return true;
      }();
      slots.Insert(same[i])->last_seen = 2;
      ASSERT_EQ(slots.capacity(), 32u);
      if (was_full) {
        ASSERT_TRUE(slots.Overflowed(home));
      }
      for (size_t j = 0; j <= i; ++j) ASSERT_NE(slots.Find(same[j]), nullptr) << "seed " << seed << " key " << j;
    }
    ASSERT_TRUE(slots.Overflowed(home));
    // Erase one in the block: the ones past it are still found, before and
    // after the markers go (DropErased moves them back).
    slots.Erase(slots.Find(same[rng() % 4]));
    for (int pass = 0; pass < 2; ++pass) {
      size_t found = 0;
      for (uint64_t k : same) found += slots.Find(k) != nullptr;
      ASSERT_EQ(found, same.size() - 1) << "seed " << seed << " pass " << pass;
      for (uint64_t k : others) ASSERT_NE(slots.Find(k), nullptr);
      slots.DropErased();
    }
    // A block none of whose keys went past it is not marked (after the
    // DropErased that recomputed the bits).
    for (size_t b = 0; b < slots.capacity(); b += FingerprintSlots::kBlock) {
      bool past = false;
      for (size_t i = 0; i < slots.capacity(); ++i) {
        const FingerprintSlot& s = slots.at(i);
        if (s.live() && slots.HomeOf(s.key) == b && (i - b) % slots.capacity() >= FingerprintSlots::kBlock) {
          past = true;
        }
      }
      ASSERT_EQ(slots.Overflowed(b), past) << "seed " << seed << " block " << b;
    }
  }
}

// EvictOne (branch-free) against EvictOneBranchy, the loop it replaced: two
// tables given the same insertions, erasures and evictions hold the same
// slots in the same places after every step, at the cap as a stream of new
// fingerprints keeps them (free, erased and live slots mixed, times with
// ties, tables with fewer than 8 live slots that the sweep goes round).
TEST(FingerprintSlotsTest, EvictOneSameAsBranchy) {
  auto contents = [](FingerprintSlots& t) {
    std::vector<std::tuple<uint64_t, int64_t, uint32_t, uint32_t>> out;
    t.ForEach([&](FingerprintSlot& f) { out.emplace_back(f.key, f.last_seen, f.span, f.count); });
    return out;
  };
  size_t evictions = 0;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    std::mt19937_64 rng(seed);
    FingerprintSlots a, b;
    const size_t cap = std::vector<size_t>{3, 9, 100, 1000}[seed % 4];
    std::vector<uint64_t> keys;
    for (int step = 0; step < 4000; ++step) {
      const uint64_t key = rng();
      // Times with ties (a few values) or spread.
      const int64_t ts = seed % 2 ? static_cast<int64_t>(rng() % 4) : static_cast<int64_t>(rng() % 100000);
      if (a.size() >= cap) {
        a.EvictOne();
        b.EvictOneBranchy();
        ++evictions;
      }
      if (rng() % 8 == 0 && !keys.empty()) {
        // An erasure of a key still there (Evaluate's expiry).
        const uint64_t k = keys[rng() % keys.size()];
        FingerprintSlot* fa = a.Find(k);
        FingerprintSlot* fb = b.Find(k);
        ASSERT_EQ(fa == nullptr, fb == nullptr);
        if (fa) {
          a.Erase(fa);
          b.Erase(fb);
        }
      }
      if (rng() % 64 == 0) {
        a.Compact();
        b.Compact();
      }
      for (FingerprintSlots* t : {&a, &b}) {
        FingerprintSlot* f = t->Insert(key);
        f->last_seen = ts;
        f->count = 1;
      }
      keys.push_back(key);
      ASSERT_EQ(contents(a), contents(b)) << "seed " << seed << " step " << step;
    }
  }
  EXPECT_GT(evictions, 50000u);
}

}  // namespace
}  // namespace sluice::detectors
