#include "common/hash.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace sluice {
namespace {

// HashBytes as it was written first (the tail bytes memcpy'd into a zeroed
// word): group keys and Elasticsearch document ids must not change when its
// tail load is rewritten for speed.
uint64_t ReferenceHash(std::string_view s, uint64_t seed) {
  uint64_t h = seed ^ (0x9e3779b97f4a7c15ull * (s.size() + 1));
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ Mix64(w + 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
  }
  if (const size_t n = s.size() - i) {
    uint64_t w = 0;
    std::memcpy(&w, s.data() + i, n);
    h = (h ^ Mix64(w ^ (n << 56))) * 0xc4ceb9fe1a85ec53ull;
  }
  return Mix64(h);
}

TEST(HashTest, SameValuesAsTheMemcpyTailForEveryLength) {
  std::mt19937_64 rng(7);
  std::string buf(80, '\0');
  for (int round = 0; round < 50; ++round) {
    for (char& c : buf) c = static_cast<char>(rng());
    for (size_t off = 0; off < 8; ++off) {
      for (size_t len = 0; len + off <= 72; ++len) {
        std::string_view s(buf.data() + off, len);
        ASSERT_EQ(HashBytes(s, 0x1234), ReferenceHash(s, 0x1234)) << "length " << len << " offset " << off;
      }
    }
  }
}

}  // namespace
}  // namespace sluice
