#include "ingest/syslog/rfc5424.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

#include "common/json_util.h"
#include "common/timeutil.h"

namespace sluice::syslog {
namespace {

std::string_view Nil(std::string_view v) { return v == "-" ? std::string_view() : v; }

bool SdNameChar(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return u >= 33 && u <= 126 && c != '=' && c != ']' && c != '"';
}

}  // namespace

size_t SdNameEnd(std::string_view s, size_t i, bool* backslash) {
  const size_t n = s.size();
#ifdef __AVX2__
  const __m256i shift = _mm256_set1_epi8(95), limit = _mm256_set1_epi8(-35);  // as in NextHeaderField
  const __m256i eq = _mm256_set1_epi8('='), bracket = _mm256_set1_epi8(']'), quote = _mm256_set1_epi8('"');
  const __m256i bs = _mm256_set1_epi8('\\');
  while (i + 32 <= n) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.data() + i));
    const __m256i stop = _mm256_or_si256(
        _mm256_cmpgt_epi8(_mm256_add_epi8(v, shift), limit),
        _mm256_or_si256(_mm256_cmpeq_epi8(v, eq), _mm256_or_si256(_mm256_cmpeq_epi8(v, bracket),
                                                                    _mm256_cmpeq_epi8(v, quote))));
    const uint32_t end = static_cast<uint32_t>(_mm256_movemask_epi8(stop));
    uint32_t b = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, bs)));
    if (end != 0) {
      const int k = __builtin_ctz(end);
      if ((b & ((1u << k) - 1)) != 0) *backslash = true;
      return i + static_cast<size_t>(k);
    }
    if (b != 0) *backslash = true;
    i += 32;
  }
#endif
  for (; i < n && SdNameChar(s[i]); ++i) {
    if (s[i] == '\\') *backslash = true;
  }
  return i;
}

bool NextHeaderField(std::string_view s, size_t* pos, std::string_view* out, bool* quoted) {
  const size_t n = s.size();
  size_t i = *pos;
  while (i < n && s[i] == ' ') ++i;
  const size_t start = i;
  bool stop = false;  // s[i] ends the field (a space or a bad byte)
#ifdef __AVX2__
  // c + 95 (mod 256), signed, is -128..-35 exactly for c in 33..126.
  const __m256i shift = _mm256_set1_epi8(95), limit = _mm256_set1_epi8(-35);
  const __m256i quote = _mm256_set1_epi8('"'), backslash = _mm256_set1_epi8('\\');
  while (i + 32 <= n) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.data() + i));
    const uint32_t outside = static_cast<uint32_t>(
        _mm256_movemask_epi8(_mm256_cmpgt_epi8(_mm256_add_epi8(v, shift), limit)));
    uint32_t q = static_cast<uint32_t>(
        _mm256_movemask_epi8(_mm256_or_si256(_mm256_cmpeq_epi8(v, quote), _mm256_cmpeq_epi8(v, backslash))));
    if (outside != 0) {
      const int k = __builtin_ctz(outside);
      q &= (1u << k) - 1;  // only the field's own bytes
      if (q != 0) *quoted = true;
      i += static_cast<size_t>(k);
      stop = true;
      break;
    }
    if (q != 0) *quoted = true;
    i += 32;
  }
#endif
  if (!stop) {
    for (; i < n; ++i) {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      if (c < 33 || c > 126) break;
      if (c == '"' || c == '\\') *quoted = true;
    }
  }
  if (i < n && s[i] != ' ') return false;  // header fields are PRINTUSASCII
  if (i == start) return false;
  *out = s.substr(start, i - start);
  *pos = i;
  return true;
}

size_t ScanStructuredData(std::string_view s, SdIndex* index) {
  // Recorded while it fits (offsets, lengths and counts then fit their
  // fields); the counts are set only once the whole SD is valid.
  bool record = index != nullptr && s.size() <= 0xFFFF;
  if (index != nullptr) index->elements = -1;
  int elements = 0, params = 0;
  bool backslash = false;
  size_t i = 0;
  while (i < s.size() && s[i] == '[') {
    ++i;
    size_t id = i;
    i = SdNameEnd(s, i, &backslash);
    if (i == id || i - id > 32 || i >= s.size()) return 0;
    SdIndex::Element* element = nullptr;
    if (record && elements < SdIndex::kMaxElements) {
      element = &index->element[elements++];
      *element = SdIndex::Element{static_cast<uint16_t>(id), static_cast<uint8_t>(i - id), 0};
    } else {
      record = false;
    }
    while (s[i] == ' ') {
      ++i;
      size_t name = i;
      i = SdNameEnd(s, i, &backslash);
      if (i == name || i - name > 32 || i + 1 >= s.size() || s[i] != '=' || s[i + 1] != '"') return 0;
      const size_t name_len = i - name, value = i + 2;
      // The value: an escape, or a literal backslash, takes the byte after it.
      bool plain;
      i = SdValueEnd(s, value, &plain);
      if (i == std::string_view::npos) return 0;
      if (record && params < SdIndex::kMaxParams) {
        index->param[params++] = SdIndex::Param{static_cast<uint16_t>(name), static_cast<uint8_t>(name_len),
                                                       plain, static_cast<uint16_t>(value),
                                                       static_cast<uint16_t>(i - value)};
        ++element->params;
      } else {
        record = false;
      }
      ++i;
      if (i >= s.size()) return 0;
    }
    if (s[i] != ']') return 0;
    ++i;
  }
  if (record) {
    index->elements = elements;
    index->params = params;
    index->names_plain = !backslash;
  }
  return i;
}

bool ParseRfc5424(std::string_view s, SyslogMessage* m) {
  // VERSION: 1-3 digits, no leading zero, then SP.
  size_t i = 0;
  while (i < s.size() && i < 4 && s[i] >= '0' && s[i] <= '9') ++i;
  if (i == 0 || i > 3 || s[0] == '0' || i >= s.size() || s[i] != ' ') return false;
  m->version = s.substr(0, i);

  std::string_view ts, host, app, procid, msgid;
  bool ts_quoted = false, quoted = false;
  if (!NextHeaderField(s, &i, &ts, &ts_quoted) || !NextHeaderField(s, &i, &host, &quoted) ||
      !NextHeaderField(s, &i, &app, &quoted) || !NextHeaderField(s, &i, &procid, &quoted) ||
      !NextHeaderField(s, &i, &msgid, &quoted)) {
    return false;
  }
  // HOSTNAME to MSGID are PRINTUSASCII: of those bytes JSON escapes only '"'
  // and '\\', which the field scans looked for. VERSION is digits.
  m->header_plain = !quoted;
  if (ts == "-") {
    m->has_timestamp = false;
  } else {
    if (ts.size() < 20 || ts[10] != 'T' || !ParseRfc3339Us(ts, &m->timestamp_us)) return false;
    m->has_timestamp = true;
  }
  m->hostname = Nil(host);
  m->appname = Nil(app);
  m->procid = Nil(procid);
  m->msgid = Nil(msgid);

  // STRUCTURED-DATA
  while (i < s.size() && s[i] == ' ') ++i;
  if (i >= s.size()) return false;
  std::string_view rest = s.substr(i);
  size_t sd_len;
  if (rest[0] == '-') {
    sd_len = 1;
    m->structured_data = {};
  } else {
    sd_len = ScanStructuredData(rest, &m->sd_index);
    if (sd_len == 0) return false;
    m->structured_data = rest.substr(0, sd_len);
  }
  rest.remove_prefix(sd_len);
  if (!rest.empty()) {
    if (rest[0] != ' ') return false;
    rest.remove_prefix(1);
  }
  if (rest.size() >= 3 && rest.substr(0, 3) == "\xEF\xBB\xBF") rest.remove_prefix(3);
  m->message = rest;
  return true;
}

}  // namespace sluice::syslog
