#pragma once
// One shard's fingerprints of a duplicate rule in an open-addressing table
// whose slot is a whole fingerprint, key with state, 32 bytes: two to a cache
// line, never across two.
//
// Why not GroupTable's absl::flat_hash_map: its slot (key + 32-byte state, 40
// bytes) sits past a separate array of control bytes, so a look-up reads the
// control bytes and then a slot found among the 16 its probe group covers,
// which no prefetch can name beforehand; and half of the 40-byte slots
// straddle two lines. In the 30-rule bench, DuplicateShipping (a fingerprint
// per shipped line, 16,384 cycling, ~1.3 MB of slots) left
// DuplicateDetector::Apply at 3.0-3.6% of sluice's samples, ~1/3 of it on the
// first read of the found slot, though the look-ups went 16 at a time. Here a
// key's probe starts at the first slot of its home block (kBlock = 4 slots,
// two lines, 128-byte aligned), so a prefetch of those lines, issued a few
// updates ahead, holds the look-up in most cases (load <= 3/4; after a growth
// <= 1/2).
//
// A fingerprint keeps `last_seen` and `span` = last_seen - first (< the rule's
// window, so the table serves windows below kMaxWindowMs; the marker values of
// span above that tell free and erased slots). Linear probing; erased slots are
// markers until a rehash (growth, or Compact when they are a quarter of the
// table) or Compact's DropErased, so an iteration may erase as it goes.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>
#include <vector>

namespace sluice::detectors {

struct FingerprintSlot {
  uint64_t key;
  uint64_t group;
  int64_t last_seen;
  uint32_t span;   // last_seen - first; kFree or kErased when the slot holds none
  uint32_t count;

  static constexpr uint32_t kFree = UINT32_MAX;
  static constexpr uint32_t kErased = UINT32_MAX - 1;
  bool live() const { return span < kErased; }
  int64_t first() const { return last_seen - static_cast<int64_t>(span); }
};
static_assert(sizeof(FingerprintSlot) == 32);

class FingerprintSlots {
 public:
  // Windows (ms) whose spans stay below the markers (span < window).
  static constexpr int64_t kMaxWindowMs = FingerprintSlot::kErased;

  FingerprintSlots() = default;
  FingerprintSlots(const FingerprintSlots&) = delete;
  FingerprintSlots& operator=(const FingerprintSlots&) = delete;
  ~FingerprintSlots() { Free(slots_); }

  size_t size() const { return size_; }
  size_t capacity() const { return mask_ + (slots_ ? 1 : 0); }
  // The slots' and the overflow bits' memory.
  size_t bytes() const { return capacity() * sizeof(FingerprintSlot) + overflow_.capacity() * sizeof(uint64_t); }
  // Tests: the slot at index i (< capacity()), and where a key's probe starts.
  const FingerprintSlot& at(size_t i) const { return slots_[i]; }
  size_t HomeOf(uint64_t key) const { return Home(key); }
  // A key's home block: where its probe starts, what Prefetch names and what
  // InsertEvicting chooses from. Two lines, the pair the table's 128-byte
  // alignment makes (with blocks that began at any line, the two lines of a
  // block were half the time in two pairs: with every event new, ApplyShards
  // was 9.4-9.8% of sluice's samples against 7.4-8.0% with pairs;
  // bench/RESULTS.md).
  static constexpr size_t kBlock = 4;

  // The key's home block, both lines: InsertEvicting's slots at the cap, and
  // below it the line a look-up's probe goes on into when the first holds
  // others (tables up to half full). With the first line only, the 30-rule
  // bench's DuplicateShipping (not at the cap; its table mostly from memory,
  // evicted by the stream between a fingerprint's repeats) took 2.69% of
  // sluice's samples, with both 2.42%, 3 runs each (blocks that began at any
  // line then; bench/RESULTS.md).
  void Prefetch(uint64_t key) const {
    if (!slots_) return;
    const size_t h = Home(key);
    for (size_t k = 0; k < kBlock; k += 2) __builtin_prefetch(&slots_[(h + k) & mask_]);
  }
  // The live slot of `key`, or nullptr.
  //
  // The probe goes past the key's home block only if a key of that home was
  // ever placed past it (a bit per block, since the last rehash or
  // DropErased): at the cap with every event new, ~7% of look-ups found their
  // block without a free slot, and the line past it, which no prefetch named,
  // came from memory.
  FingerprintSlot* Find(uint64_t key) {
    if (!slots_) return nullptr;
    const size_t h = Home(key);
    for (size_t i = h, k = 0;; i = (i + 1) & mask_, ++k) {
      if (k == kBlock && !Overflowed(h)) return nullptr;
      FingerprintSlot& s = slots_[i];
      if (s.span == FingerprintSlot::kFree) return nullptr;
      if (s.key == key && s.span != FingerprintSlot::kErased) return &s;
    }
  }
  // Whether a key of the block at `home` was placed past it (Find; tests).
  bool Overflowed(size_t home) const {
    const size_t b = home / kBlock;
    return (overflow_[b / 64] >> (b % 64)) & 1;
  }
  // A slot for `key`, which is not in the table: key set, span 0, count 0
  // (the caller sets the state). May rehash: pointers into the table die.
  FingerprintSlot* Insert(uint64_t key) {
    if ((size_ + erased_ + 1) * 4 > capacity() * 3) Rehash(CapacityFor(size_ + 1));
    const size_t h = Home(key);
    for (size_t i = h;; i = (i + 1) & mask_) {
      FingerprintSlot& s = slots_[i];
      if (s.live()) continue;
      if (s.span == FingerprintSlot::kErased) --erased_;
      s = FingerprintSlot{key, 0, 0, 0, 0};
      ++size_;
      NotePlaced(h, i);
      return &s;
    }
  }
  void Erase(FingerprintSlot* s) {
    // A slot followed by a free one ends no probe sequence that goes on: free.
    const size_t i = static_cast<size_t>(s - slots_);
    if (slots_[(i + 1) & mask_].span == FingerprintSlot::kFree) {
      s->span = FingerprintSlot::kFree;
    } else {
      s->span = FingerprintSlot::kErased;
      ++erased_;
    }
    --size_;
  }
  // A slot for `key`, which is not in the table, at the cap: the table holds
  // between `low` and `high` fingerprints (low <= size() <= high), and one
  // or two of them may give way (*evicted: 0, 1 or 2). Returns the slot as
  // Insert does (key set, span 0, count 0). Needs size() > 0.
  //  * The least recently seen live slot of the key's home block (the first
  //    on a tie) is replaced in place. Within a block no live slot follows a
  //    free one (homes are block starts, a key takes the first slot of its
  //    probe that is not live, and a slot is freed only before a free one),
  //    so the key's probe reaches it.
  //  * When size() > low, the live slot right before the block's first free
  //    slot (not the one replaced) is freed too: the table gives back what
  //    it grew by.
  //  * When the block holds no live slot and size() < high, the key is
  //    inserted with no eviction: the table grows by one. At size() == high,
  //    EvictOne's victim gives way instead.
  // With low == high, the size stays the same.
  //
  // Why not EvictOne then Insert: at the cap (a new fingerprint per event,
  // as a real Filebeat stream's DuplicateShipping: run_beats.sh --distinct
  // 2000000) a shard's table is ~38% live slots, so EvictOne's sweep reads
  // ~21 slots (~10 lines) per eviction, besides the new key's home line:
  // ~11 lines from memory per event, which kept the load buffers full (the
  // prefetch of the next key's home line stalled, and the look-up still
  // waited for it: ~1/3 of ApplyShards' samples, ApplyShards 14% of
  // sluice's). Here the victim is in the lines the look-up of the key has
  // just read (and the prefetch named). The victim is the oldest of a sample
  // of ~1.5 live fingerprints rather than of 8: still about the least
  // recently seen (as Redis's sampled LRU), and only at the cap. The slack
  // spares the ~15% of new keys whose block holds no live slot EvictOne's
  // sweep, and none of this leaves an erased marker (see DropErased).
  FingerprintSlot* InsertEvicting(uint64_t key, size_t low, size_t high, uint32_t* evicted) {
    const size_t h = Home(key);
    size_t victim = kBlock, first_free = kBlock;
    int64_t oldest = INT64_MAX;
    for (size_t k = 0; k < kBlock; ++k) {
      const FingerprintSlot& s = slots_[(h + k) & mask_];
      if (s.span == FingerprintSlot::kFree) {
        first_free = k;
        break;
      }
      if (s.live() && s.last_seen < oldest) victim = k, oldest = s.last_seen;
    }
    if (victim == kBlock) {
      *evicted = size_ < high ? 0 : 1;
      if (*evicted) EvictOne();
      return Insert(key);
    }
    *evicted = 1;
    if (size_ > low && first_free < kBlock && first_free - 1 != victim) {
      FingerprintSlot& last = slots_[(h + first_free - 1) & mask_];
      if (last.live()) {
        last.span = FingerprintSlot::kFree;  // followed by a free slot: ends no probe that goes on
        --size_;
        *evicted = 2;
      }
    }
    FingerprintSlot& v = slots_[(h + victim) & mask_];
    v = FingerprintSlot{key, 0, 0, 0, 0};
    return &v;
  }
  // Evicts the least recently seen of the 8 live slots that follow the last
  // ones probed (a sweep round the table, as GroupTable's), the first of
  // them on a tie. Needs size() > 0.
  //
  // Without a branch per slot: at the cap (a new fingerprint per event, as a
  // real Filebeat stream's DuplicateShipping: run_beats.sh --distinct
  // 2000000) a shard's table holds ~38% live slots among free and erased
  // ones at random, the sweep reads ~21 slots per eviction, and the branches
  // on each slot's liveness and age missed (~55% of
  // DuplicateSlotsDetector::ApplyShards' samples on that loop, ApplyShards
  // 19.5% of all of sluice's). The same victim and sweep as
  // EvictOneBranchy, the reference (tests/detectors/duplicate_slots_test.cc).
  // Those figures are from when every new key at the cap came here; since
  // InsertEvicting only those whose block holds no live slot when the table
  // has no slack left do.
  void EvictOne() {
    // The 8 live slots' places first (a store per slot read, kept when the
    // slot is live), then the oldest of them: the loop over the ~21 slots
    // carries only the count, not the age comparison too (its ALU work was
    // a third of ApplyAt's samples at the cap, 19:09).
    size_t i = sweep_ & mask_;
    size_t at[8];
    unsigned probes = 0;
    size_t read = 0;
    do {
      at[probes] = i;
      probes += slots_[i].span < FingerprintSlot::kErased;
      ++read;
      i = (i + 1) & mask_;
    } while (probes < 8);
    size_t victim = at[0];
    int64_t oldest = slots_[victim].last_seen;
    for (size_t k = 1; k < 8; ++k) {
      const int64_t t = slots_[at[k]].last_seen;
      // By masks: GCC made a ?: here a branch on the ages, which are random.
      const uint64_t m = uint64_t{0} - (t < oldest);
      victim = (at[k] & m) | (victim & ~m);
      oldest = static_cast<int64_t>((static_cast<uint64_t>(t) & m) | (static_cast<uint64_t>(oldest) & ~m));
    }
    sweep_ = i;
    Erase(&slots_[victim]);
    // The lines the next evictions read, kSweepAhead slots on: the sweep's
    // loads waited for lines from memory (15% of ApplyShards' samples at the
    // cap, its 8 MB of slots per rule past L2 and the hardware's prefetch).
    // As many slots as this one read (a line per two), from there.
    for (size_t k = 0; k < read; k += 2) __builtin_prefetch(&slots_[(sweep_ + kSweepAhead + k) & mask_]);
  }
  // EvictOne as it was written first, with a branch per slot (tests).
  void EvictOneBranchy() {
    FingerprintSlot* victim = nullptr;
    size_t i = sweep_ & mask_;
    for (int probes = 0; probes < 8; i = (i + 1) & mask_) {
      FingerprintSlot& s = slots_[i];
      if (!s.live()) continue;
      if (!victim || s.last_seen < victim->last_seen) victim = &s;
      ++probes;
    }
    sweep_ = i;
    Erase(victim);
  }
  // Every live slot, in table order; `fn` may Erase the slot it is given.
  template <typename Fn>
  void ForEach(const Fn& fn) {
    for (size_t i = 0; i < capacity(); ++i) {
      if (slots_[i].live()) fn(slots_[i]);
    }
  }
  // After an evaluation's expiry: rehashes when erased slots are a quarter
  // of the table (into a smaller one if it holds few), else drops the erased
  // markers in place (DropErased), so that look-ups of new keys probe short
  // again.
  void Compact() {
    if (erased_ * 4 > capacity()) {
      Rehash(CapacityFor(size_));
    } else {
      DropErased();
    }
  }
  // No erased markers left, without a new table: every marker freed, then
  // each live slot moved back to the first slot of its probe that is not
  // live. The pass starts past a slot that was free before (the table is at
  // most 3/4 full), which no probe crosses, and goes in probe order, so a
  // slot vacated by a move always lies ahead of the pass and a slot before
  // it is never freed again. O(capacity), as the expiry's pass before it.
  //
  // Why: every expired fingerprint left a marker (but the ones followed by
  // a free slot), and with every event new the markers from one evaluation
  // to the next made ~10% of the look-ups probe past their block into a
  // line not prefetched; a rehash into a new table each time would fault in
  // its pages again.
  void DropErased() {
    if (erased_ == 0) return;
    size_t start = 0;
    while (slots_[start].span != FingerprintSlot::kFree) ++start;
    for (size_t i = 0; i <= mask_; ++i) {
      if (slots_[i].span == FingerprintSlot::kErased) slots_[i].span = FingerprintSlot::kFree;
    }
    erased_ = 0;
    std::fill(overflow_.begin(), overflow_.end(), 0);
    for (size_t k = 1; k <= mask_; ++k) {
      const size_t i = (start + k) & mask_;
      if (!slots_[i].live()) continue;
      const size_t h = Home(slots_[i].key);
      size_t j = h;
      while (j != i && slots_[j].live()) j = (j + 1) & mask_;
      NotePlaced(h, j);
      if (j == i) continue;
      slots_[j] = slots_[i];
      slots_[i].span = FingerprintSlot::kFree;
    }
  }

 private:
  static constexpr uint64_t kMul = 0x9e3779b97f4a7c15ull;
  static constexpr size_t kAlign = kBlock * sizeof(FingerprintSlot);  // blocks are line pairs
  // The first slot of the key's home block (keys are hashes; the multiply mixes
  // their high bits, which pick the shard, into the index too).
  size_t Home(uint64_t key) const { return static_cast<size_t>((key * kMul) >> shift_) & mask_ & ~(kBlock - 1); }
  static size_t CapacityFor(size_t n) {
    size_t c = 16;
    while (n * 2 > c) c *= 2;
    return c;
  }
  static FingerprintSlot* Allocate(size_t n) {
    auto* p = static_cast<FingerprintSlot*>(::operator new(n * sizeof(FingerprintSlot), std::align_val_t{kAlign}));
    for (size_t i = 0; i < n; ++i) p[i].span = FingerprintSlot::kFree;
    return p;
  }
  static void Free(FingerprintSlot* p) {
    if (p) ::operator delete(p, std::align_val_t{kAlign});
  }
  void Rehash(size_t cap) {
    FingerprintSlot* old = slots_;
    const size_t old_cap = capacity();
    slots_ = Allocate(cap);
    mask_ = cap - 1;
    shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(cap));
    erased_ = 0;
    sweep_ = 0;
    overflow_.assign((cap / kBlock + 63) / 64, 0);
    for (size_t j = 0; j < old_cap; ++j) {
      if (!old[j].live()) continue;
      const size_t h = Home(old[j].key);
      size_t i = h;
      while (slots_[i].span != FingerprintSlot::kFree) i = (i + 1) & mask_;
      slots_[i] = old[j];
      NotePlaced(h, i);
    }
    Free(old);
  }
  // A key of home block `h` placed at slot i: past its block, the block's bit.
  void NotePlaced(size_t h, size_t i) {
    if (((i - h) & mask_) < kBlock) return;
    const size_t b = h / kBlock;
    overflow_[b / 64] |= uint64_t{1} << (b % 64);
  }

  FingerprintSlot* slots_ = nullptr;
  size_t mask_ = 0;
  unsigned shift_ = 64;
  size_t size_ = 0;
  size_t erased_ = 0;
  size_t sweep_ = 0;  // the slot after the last ones EvictOne probed
  std::vector<uint64_t> overflow_;  // a bit per block: a key of its home placed past it (Find)
  static constexpr size_t kSweepAhead = 64;  // slots: ~3 evictions at ~38% live slots
};

}  // namespace sluice::detectors
