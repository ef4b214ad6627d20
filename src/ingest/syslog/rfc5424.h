#pragma once
// RFC 5424 header and STRUCTURED-DATA parsing, in place (no allocation).

#include <cstddef>
#include <string_view>

#include "common/json_util.h"
#include "ingest/syslog/syslog_message.h"

namespace sluice::syslog {

// Parses what follows `<PRI>` (`VERSION SP TIMESTAMP SP HOSTNAME ...`) into `m`
// (all fields but `priority` and `format`). Tolerates several spaces between
// header fields, as relays produce. Returns false if it is not RFC 5424.
bool ParseRfc5424(std::string_view s, SyslogMessage* m);

// The next space-delimited header field at `*pos` (extra spaces before it
// skipped): sets *out and moves *pos past it. False if there is none or it
// holds a byte outside PRINTUSASCII (33..126). *quoted is set when the field
// holds a '"' or a '\\' (the only PRINTUSASCII bytes JSON escapes) and left
// alone otherwise. 32 bytes per step with AVX2.
bool NextHeaderField(std::string_view s, size_t* pos, std::string_view* out, bool* quoted);

// The end of the SD-ID or PARAM-NAME at s[i]: the first byte from i on that
// is not PRINTUSASCII (33..126) or is '=', ']' or '"' (or s.size()). Sets
// *backslash if the name holds a backslash (the only one of those bytes JSON
// escapes) and leaves it alone otherwise. 32 bytes per step with AVX2.
size_t SdNameEnd(std::string_view s, size_t i, bool* backslash);

// Checks STRUCTURED-DATA elements at the start of `s` (`[id p="v"]...`, no
// space between elements). Returns the length of the valid SD, or 0 if `s`
// does not start with a valid element. With `index`, records where the
// elements and parameters are (index->elements is -1 if they do not fit).
size_t ScanStructuredData(std::string_view s, SdIndex* index = nullptr);

// The index of the quote that ends the PARAM-VALUE starting at s[i] (a
// backslash takes the byte after it along), or npos if `s` ends first.
// *plain: the value holds nothing a JSON string cannot hold as is (so no
// backslash either). The bytes up to the first quote, backslash, control or
// non-ASCII byte are skipped with one vector scan: for most values that is
// the whole value.
inline size_t SdValueEnd(std::string_view s, size_t i, bool* plain) {
  *plain = true;
  const size_t n = s.size();
  while (i < n) {
    i += JsonPlainPrefix(s.substr(i));
    if (i >= n) break;
    if (s[i] == '"') return i;
    *plain = false;
    i += s[i] == '\\' ? 2 : 1;
  }
  return std::string_view::npos;
}

// Walks validated structured data (from ScanStructuredData). For each element
// `on_element(id)` is called, then `on_param(name, raw_value, plain)` for each
// of its parameters, where raw_value still holds the `\"`, `\\`, `\]` escapes
// and `plain` says it holds no escape nor anything else JSON escapes.
template <typename OnElement, typename OnParam>
void ForEachSdParam(std::string_view sd, OnElement on_element, OnParam on_param) {
  size_t i = 0;
  while (i < sd.size() && sd[i] == '[') {
    size_t id_start = ++i;
    while (i < sd.size() && sd[i] != ' ' && sd[i] != ']') ++i;
    on_element(sd.substr(id_start, i - id_start));
    while (i < sd.size() && sd[i] == ' ') {
      size_t name_start = ++i;
      while (sd[i] != '=') ++i;
      std::string_view name = sd.substr(name_start, i - name_start);
      i += 2;  // ="
      size_t v = i;
      bool plain;
      i = SdValueEnd(sd, i, &plain);
      on_param(name, sd.substr(v, i - v), plain);
      ++i;  // closing quote
    }
    ++i;  // ]
  }
}

// ForEachSdParam from the index ScanStructuredData made of `sd`, if it has
// one: the same calls without walking the SD again.
template <typename OnElement, typename OnParam>
void ForEachSdParam(std::string_view sd, const SdIndex& index, OnElement on_element, OnParam on_param) {
  if (index.elements < 0) return ForEachSdParam(sd, on_element, on_param);
  int p = 0;
  for (int e = 0; e < index.elements; ++e) {
    const SdIndex::Element& el = index.element[e];
    on_element(sd.substr(el.id_off, el.id_len));
    for (int k = 0; k < el.params; ++k, ++p) {
      const SdIndex::Param& pr = index.param[p];
      on_param(sd.substr(pr.name_off, pr.name_len), sd.substr(pr.value_off, pr.value_len), pr.plain);
    }
  }
}

// Appends a PARAM-VALUE with its escapes resolved: `\"`, `\\` and `\]` lose the
// backslash; a backslash before anything else is kept (RFC 5424 §6.3.3).
template <typename Out>
void UnescapeSdValue(std::string_view raw, Out* out) {
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size() && (raw[i + 1] == '"' || raw[i + 1] == '\\' || raw[i + 1] == ']')) {
      ++i;
    }
    out->push_back(raw[i]);
  }
}

}  // namespace sluice::syslog
