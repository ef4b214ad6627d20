#include "detectors/common/hash_lanes.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace sluice::detectors {

#if defined(__AVX2__)

bool CpuHasHashLanes() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                          __builtin_cpu_supports("avx512vl");
  return has;
}

namespace {

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ull;  // hash.h's constants
constexpr uint64_t kMixMul = 0xd6e8feb86659fd93ull;

#define SLUICE_LANES __attribute__((target("avx512f,avx512dq,avx512vl"), always_inline)) inline

SLUICE_LANES __m256i Splat(uint64_t x) { return _mm256_set1_epi64x(static_cast<long long>(x)); }

// Mix64 in each lane.
SLUICE_LANES __m256i Mix64Lanes(__m256i x) {
  const __m256i k = Splat(kMixMul);
  x = _mm256_xor_si256(x, _mm256_srli_epi64(x, 32));
  x = _mm256_mullo_epi64(x, k);
  x = _mm256_xor_si256(x, _mm256_srli_epi64(x, 32));
  x = _mm256_mullo_epi64(x, k);
  return _mm256_xor_si256(x, _mm256_srli_epi64(x, 32));
}

SLUICE_LANES __m256i Load(const uint64_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

}  // namespace

__attribute__((target("avx512f,avx512dq,avx512vl"))) void KeyChainLanes(const uint64_t* start, uint64_t seed,
                                                                       const uint64_t* const* cols, size_t n,
                                                                       uint64_t tweak, size_t m, uint64_t* out) {
  for (size_t j = 0; j < m; j += 4) {
    __m256i k = start ? Load(start + j) : Splat(seed);
    for (size_t c = 0; c < n; ++c) k = _mm256_add_epi64(Mix64Lanes(_mm256_xor_si256(k, Load(cols[c] + j))), Splat(kGolden));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j), Mix64Lanes(_mm256_xor_si256(k, Splat(tweak))));
  }
}

#else

bool CpuHasHashLanes() { return false; }
void KeyChainLanes(const uint64_t*, uint64_t, const uint64_t* const*, size_t, uint64_t, size_t, uint64_t*) {}

#endif

}  // namespace sluice::detectors
