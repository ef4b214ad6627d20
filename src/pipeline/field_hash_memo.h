#pragma once
// A field's value hashes (FieldValueHash) remembered by value: the rules
// engine's memo, and the parser's where it stores the hashed fields' columns
// (Batch::FieldHashes). `kGroupOf`: a second hash derived from the field's,
// kept beside it (nullptr: none).

#include <cstdint>
#include <cstring>
#include <string>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "pipeline/batch.h"

namespace sluice {

// A field's hashes by value, for the group fields that repeat a few values
// again and again (service.name, host.name, agent.name, log.file.path in
// bench/rules/thirty-rules.yml): a hit costs a few loads and compares instead
// of HashBytes' multiply chain per 8 bytes and the Combine of a one-field
// group (detectors_bench BM_ThirtyRulesStream). Exact: the key is the kind,
// the length and every byte of values up to 32 bytes (longer ones are hashed
// each time), as 32 bytes with zeros after the value's; an entry's hashes
// depend on nothing else, so entries stay valid whatever field or rule set
// looks them up. Two entries per set, the newer first: 16 values fill a set
// past two with a chance of ~4% (one entry per index, as before, gave two
// values one entry with ~87%, and each then missed every time the other had
// come in between). A field whose values seldom repeat (log.offset) skips the
// memo for a while (Skip).
template <uint64_t (*kGroupOf)(uint64_t)>
class FieldHashMemoOf {
 public:
  struct Hashes {
    uint64_t field;  // FieldHash
    uint64_t group;  // kGroupOf(field) (the rules engine: the group of a one-field group_by), 0 without one
  };
  static constexpr uint32_t kMaxKey = 32;  // longer values are hashed every time
  // The hashes of `v` (of at most kMaxKey bytes: the caller computes the
  // longer ones), from the memo or computed (and remembered). `kWide`:
  // the key loaded, compared and folded 32 bytes at a time with AVX2 where
  // compiled in (RuleEngineOptions::simd; the same key, entry and result as
  // the portable code, ~25 instead of ~57 instructions per look-up:
  // BM_ThirtyRulesStream). `readable`: the arena's capacity (bytes up to it
  // may be loaded).
  template <bool kWide>
  Hashes Get(const Batch& batch, const FieldValue& v, size_t readable) {
    const size_t n = v.span.len;
    const std::string& arena = batch.arena();
    const char* p = arena.data() + v.span.off;
    const uint32_t tag = static_cast<uint32_t>(n) << 8 | static_cast<uint32_t>(v.kind);
#if defined(__AVX2__)
    if constexpr (kWide) {
      __m256i key;
      if (size_t{v.span.off} + 32 <= readable) {
        // Within the arena's allocation (the parser reserves padding after
        // the last event); the bytes past the value's are cleared.
        const __m256i iota = _mm256_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
                                              20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31);
        key = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)),
                               _mm256_cmpgt_epi8(_mm256_set1_epi8(static_cast<char>(n)), iota));
      } else {
        uint64_t k[4] = {0, 0, 0, 0};
        std::memcpy(k, p, n);
        key = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(k));
      }
      const __m128i f = _mm_xor_si128(_mm256_castsi256_si128(key), _mm256_extracti128_si256(key, 1));
      Entry* e = &entries_[2 * Set(static_cast<uint64_t>(_mm_cvtsi128_si64(f)),
                                   static_cast<uint64_t>(_mm_extract_epi64(f, 1)), tag)];
      for (int way = 0; way < 2; ++way) {
        const __m256i same =
            _mm256_cmpeq_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(e[way].key)), key);
        if (e[way].tag == tag && _mm256_movemask_epi8(same) == -1) return e[way].hashes;
      }
      alignas(32) uint64_t k[4];
      _mm256_store_si256(reinterpret_cast<__m256i*>(k), key);
      return Insert(e, k, tag, batch, v);
    }
#endif
    uint64_t k[4] = {0, 0, 0, 0};
    std::memcpy(k, p, n);
    Entry* e = &entries_[2 * Set(k[0] ^ k[2], k[1] ^ k[3], tag)];
    for (int way = 0; way < 2; ++way) {
      if (e[way].tag == tag && e[way].key[0] == k[0] && e[way].key[1] == k[1] && e[way].key[2] == k[2] &&
          e[way].key[3] == k[3]) {
        return e[way].hashes;
      }
    }
    return Insert(e, k, tag, batch, v);
  }
  static Hashes Compute(const Batch& batch, const FieldValue& v) {
    const uint64_t h = FieldValueHash(batch, v);
    if constexpr (kGroupOf != nullptr) {
      return {h, kGroupOf(h)};
    } else {
      return {h, 0};
    }
  }
  // The caller counts the look-ups (values of up to 32 bytes) of a chunk and
  // adds them here: a count in the memo, in memory across the HashBytes
  // call of a miss, was a load and a store per look-up chained from one
  // look-up to the next.
  void Looked(uint32_t n) { lookups_ += n; }
  // After a chunk: whether the next one should go without the memo (more
  // than half of this one's look-ups missed: the memo costs without paying;
  // tried again after kSkipChunks chunks).
  bool Skip() {
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    if (lookups_ >= 32 && misses_ * 2 > lookups_) skip_ = kSkipChunks;
    lookups_ = misses_ = 0;
    return skip_ > 0;
  }

 private:
  static constexpr int kSetBits = 7;
  static constexpr uint32_t kSkipChunks = 16;
  // A line each (56 bytes unpadded: an entry's key then crossed a line
  // boundary in most sets, and the set's address took two multiplies).
  struct alignas(64) Entry {
    uint64_t key[4] = {0, 0, 0, 0};  // the value's bytes, then zeros
    uint32_t tag = ~uint32_t{0};     // length << 8 | kind; all ones: empty
    Hashes hashes{};
  };
  // The set of a key: its words 0 ^ 2 and 1 ^ 3 (the halves of the 32
  // bytes folded) and the tag, mixed: the top bits of a product, which
  // every bit of the factor reaches.
  static size_t Set(uint64_t a, uint64_t b, uint32_t tag) {
    const uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ull) ^ tag) * 0xc2b2ae3d27d4eb4full;
    return static_cast<size_t>(h >> (64 - kSetBits));
  }
  // A miss: the key becomes the set's first entry, the first its second.
  // Out of line: the look-up's loop keeps its registers.
  __attribute__((noinline)) Hashes Insert(Entry* e, const uint64_t* k, uint32_t tag, const Batch& batch, const FieldValue& v) {
    ++misses_;
    e[1] = e[0];
    e[0].tag = tag;
    for (int i = 0; i < 4; ++i) e[0].key[i] = k[i];
    e[0].hashes = Compute(batch, v);
    return e[0].hashes;
  }
  Entry entries_[size_t{2} << kSetBits];
  uint32_t lookups_ = 0, misses_ = 0, skip_ = 0;
};

}  // namespace sluice
