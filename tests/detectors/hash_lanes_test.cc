#include "detectors/common/hash_lanes.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/hash.h"

namespace sluice::detectors {
namespace {

// The key chain of 0 to 3 columns, with a start column or a seed, over
// counts that are and are not multiples of 8, against the scalar chain.
TEST(HashLanesTest, KeyChainAsTheScalarCombines) {
  if (!CpuHasHashLanes()) GTEST_SKIP() << "no AVX-512 DQ+VL on this CPU";
  std::mt19937_64 rng(5);
  constexpr size_t kMax = 520;  // rounded up to 8
  std::vector<uint64_t> start(kMax), c0(kMax), c1(kMax), c2(kMax), out(kMax);
  const uint64_t* cols[] = {c0.data(), c1.data(), c2.data()};
  for (size_t m : {1u, 7u, 8u, 9u, 64u, 511u, 512u}) {
    for (size_t n = 0; n <= 3; ++n) {
      for (bool with_start : {false, true}) {
        for (auto* v : {&start, &c0, &c1, &c2}) {
          for (uint64_t& x : *v) x = rng();
        }
        const uint64_t seed = rng(), tweak = rng();
        KeyChainLanes(with_start ? start.data() : nullptr, seed, cols, n, tweak, m, out.data());
        for (size_t j = 0; j < m; ++j) {
          uint64_t k = with_start ? start[j] : seed;
          for (size_t c = 0; c < n; ++c) k = Mix64(k ^ cols[c][j]) + 0x9e3779b97f4a7c15ull;
          ASSERT_EQ(out[j], Mix64(k ^ tweak)) << "m " << m << " columns " << n << " event " << j;
        }
      }
    }
  }
}

}  // namespace
}  // namespace sluice::detectors
