#pragma once
// A small, fast 64-bit hash for group keys, fingerprints and document ids (8 bytes per step,
// multiply-xorshift mixing). Not cryptographic; collisions merge two groups.

#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace sluice {

inline uint64_t Mix64(uint64_t x) {
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ull;
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ull;
  x ^= x >> 32;
  return x;
}

inline uint64_t HashBytes(std::string_view s, uint64_t seed) {
  uint64_t h = seed ^ (0x9e3779b97f4a7c15ull * (s.size() + 1));
  const char* p = s.data();
  size_t n = s.size();
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ Mix64(w + 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
    p += 8;
    n -= 8;
  }
  if (n) {
    // The same value as a memcpy of the n tail bytes into a zeroed w, without
    // the library call a variable-length memcpy is (a tenth of the rule
    // engine's Observe: detectors_bench BM_ThirtyRulesObserve): on
    // little-endian, the 8 bytes ending at the tail shifted down, or, when
    // the string is shorter than 8, two overlapping loads (short values such
    // as log.offset's went byte by byte: ~20 instructions).
    uint64_t w = 0;
    if constexpr (std::endian::native == std::endian::little) {
      if (s.size() >= 8) {
        std::memcpy(&w, p + n - 8, 8);
        w >>= 8 * (8 - n);
      } else if (n >= 4) {
        // Two 4-byte loads, the second ending at the last byte: the bytes
        // both cover land on the same places, so OR-ing them changes nothing.
        uint32_t lo, hi;
        std::memcpy(&lo, p, 4);
        std::memcpy(&hi, p + n - 4, 4);
        w = uint64_t{lo} | (uint64_t{hi} << (8 * (n - 4)));
      } else {
        // 1 to 3 bytes: the first, the middle and the last (some the same).
        w = uint64_t{static_cast<unsigned char>(p[0])} | uint64_t{static_cast<unsigned char>(p[n / 2])} << (8 * (n / 2)) |
            uint64_t{static_cast<unsigned char>(p[n - 1])} << (8 * (n - 1));
      }
    } else {
      std::memcpy(&w, p, n);
    }
    h = (h ^ Mix64(w ^ (n << 56))) * 0xc4ceb9fe1a85ec53ull;
  }
  return Mix64(h);
}

}  // namespace sluice
