#include "common/json_util.h"

#include <bit>
#include <cstdint>
#include <cstring>

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace sluice {
namespace {
constexpr char kHex[] = "0123456789abcdef";

// Length of a valid UTF-8 sequence starting at s[i], or 0 if invalid.
size_t Utf8Len(std::string_view s, size_t i) {
  unsigned char c = s[i];
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) { n = 2; cp = c & 0x1F; }
  else if ((c & 0xF0) == 0xE0) { n = 3; cp = c & 0x0F; }
  else if ((c & 0xF8) == 0xF0) { n = 4; cp = c & 0x07; }
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    unsigned char cc = s[i + k];
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}
}  // namespace

namespace {
// The high bit of each byte of p[0, 8) (little-endian) that a JSON string
// cannot hold as is.
static_assert(std::endian::native == std::endian::little, "BadMask8 counts bytes from the low end");
inline uint64_t BadMask8(const char* p) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  auto zero_byte = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  uint64_t w;
  std::memcpy(&w, p, 8);
  return (w & kHigh) | ((w - 0x2020202020202020ULL) & ~w & kHigh) | zero_byte(w ^ (kOnes * '"')) |
         zero_byte(w ^ (kOnes * '\\'));
}
}  // namespace

#ifdef __AVX2__
namespace {
// Bytes a JSON string cannot hold as is, as a bit mask: control bytes and every
// byte >= 0x80 (signed: 0x20 > c), '"' and '\\'.
inline uint32_t BadMask32(const char* p) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i bad = _mm256_or_si256(
      _mm256_cmpgt_epi8(_mm256_set1_epi8(0x20), v),
      _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('"')), _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\'))));
  return static_cast<uint32_t>(_mm256_movemask_epi8(bad));
}
inline uint32_t BadMask16(const char* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i bad =
      _mm_or_si128(_mm_cmpgt_epi8(_mm_set1_epi8(0x20), v),
                   _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
  return static_cast<uint32_t>(_mm_movemask_epi8(bad));
}
}  // namespace
#endif

size_t JsonPlainPrefix(std::string_view s) {
  const char* p = s.data();
  const size_t n = s.size();
  size_t i = 0;
#ifdef __AVX2__
  // Most strings written are short header fields (a host name, "4242"): a
  // tail, or a whole string of 16 to 31 bytes, is checked with two loads that
  // overlap instead of byte by byte, never reading outside `s`.
  if (n >= 32) {
    for (; i + 32 <= n; i += 32) {
      if (const uint32_t mask = BadMask32(p + i)) return i + __builtin_ctz(mask);
    }
    if (i == n) return n;
    const uint32_t mask = BadMask32(p + n - 32) >> (32 - (n - i));  // bytes [i, n)
    return mask ? i + __builtin_ctz(mask) : n;
  }
  if (n >= 16) {
    if (const uint32_t mask = BadMask16(p)) return __builtin_ctz(mask);
    const uint32_t mask = BadMask16(p + n - 16) >> (32 - n);  // bytes [16, n)
    return mask ? 16 + __builtin_ctz(mask) : n;
  }
#endif
  // 8 bytes at a time: any byte < 0x20, '"', '\\' or >= 0x80 ("has zero byte"
  // tests; the lowest flagged byte is always a true one, borrows only run upwards).
  if (n >= 8) {
    for (; i + 8 <= n; i += 8) {
      if (const uint64_t mask = BadMask8(p + i)) return i + __builtin_ctzll(mask) / 8;
    }
    if (i == n) return n;
    const uint64_t mask = BadMask8(p + n - 8) >> (8 * (8 - (n - i)));  // bytes [i, n)
    return mask ? i + __builtin_ctzll(mask) / 8 : n;
  }
  for (; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(p[i]);
    if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
  }
  return i;
}

void AppendJsonEscaped(std::string_view s, std::string* out) {
  size_t i = 0;
  while (i < s.size()) {
    // Copy the longest run that needs no escaping in one append.
    const size_t run = i + JsonPlainPrefix(s.substr(i));
    out->append(s.data() + i, run - i);
    i = run;
    if (i >= s.size()) break;
    unsigned char c = s[i];
    if (c >= 0x80) {
      size_t n = Utf8Len(s, i);
      if (n == 0) {
        out->append("\xEF\xBF\xBD");
        ++i;
      } else {
        out->append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default:
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 15]);
    }
    ++i;
  }
}

void AppendJsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  AppendJsonEscaped(s, out);
  out->push_back('"');
}

namespace {
int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}
bool Hex4(std::string_view s, size_t i, uint32_t* out) {
  if (i + 4 > s.size()) return false;
  uint32_t v = 0;
  for (size_t k = 0; k < 4; ++k) {
    int h = HexVal(s[i + k]);
    if (h < 0) return false;
    v = v * 16 + h;
  }
  *out = v;
  return true;
}
}  // namespace

bool UnescapeJsonString(std::string_view s, std::string* out) {
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (++i >= s.size()) return false;
    switch (s[i]) {
      case '"': out->push_back('"'); break;
      case '\\': out->push_back('\\'); break;
      case '/': out->push_back('/'); break;
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      case 'n': out->push_back('\n'); break;
      case 'r': out->push_back('\r'); break;
      case 't': out->push_back('\t'); break;
      case 'u': {
        uint32_t cp;
        if (!Hex4(s, i + 1, &cp)) return false;
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 < s.size() + 0 && s[i + 1] == '\\' && s[i + 2] == 'u') {
          uint32_t lo;
          if (Hex4(s, i + 3, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          }
        }
        AppendUtf8(cp, out);
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

}  // namespace sluice
