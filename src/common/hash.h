#pragma once
// A small, fast 64-bit hash for group keys, fingerprints and document ids (8 bytes per step,
// multiply-xorshift mixing). Not cryptographic; collisions merge two groups.

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
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ Mix64(w ^ (n << 56))) * 0xc4ceb9fe1a85ec53ull;
  }
  return Mix64(h);
}

}  // namespace sluice
