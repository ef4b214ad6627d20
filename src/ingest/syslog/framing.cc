#include "ingest/syslog/framing.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace sluice::syslog {

size_t FrameSplitter::FindTrailer(std::string_view data, size_t from) {
  const char* p = data.data();
  const size_t n = data.size();
  size_t i = from;
#ifdef __AVX2__
  const __m256i lf = _mm256_set1_epi8('\n'), nul = _mm256_setzero_si256();
  for (; i + 32 <= n; i += 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
    const uint32_t m =
        static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_or_si256(_mm256_cmpeq_epi8(v, lf), _mm256_cmpeq_epi8(v, nul))));
    if (m) return i + __builtin_ctz(m);
  }
#endif
  for (; i < n; ++i) {
    if (p[i] == '\n' || p[i] == '\0') return i;
  }
  return std::string_view::npos;
}

}  // namespace sluice::syslog
