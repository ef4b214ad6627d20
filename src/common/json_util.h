#pragma once
// Small JSON helpers for code that writes JSON by hand (sinks, DLQ, syslog).

#include <string>
#include <string_view>

namespace sluice {

// Length of the longest prefix of `s` that a JSON string holds as is:
// printable ASCII without '"' and '\\' (32 bytes per step with AVX2).
size_t JsonPlainPrefix(std::string_view s);
// Appends `s` as the contents of a JSON string (without quotes), escaping as needed.
// Invalid UTF-8 bytes are replaced by U+FFFD so the output is always valid JSON.
void AppendJsonEscaped(std::string_view s, std::string* out);
// Appends "s" with quotes.
void AppendJsonString(std::string_view s, std::string* out);
// Appends {"k":"v",...} for any range of (string, string) pairs (a map, or a
// vector of pairs such as Labels).
template <typename Pairs>
void AppendJsonStringMap(const Pairs& pairs, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const auto& [k, v] : pairs) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(k, out);
    out->push_back(':');
    AppendJsonString(v, out);
  }
  out->push_back('}');
}
// Decodes the contents of a JSON string (without quotes). Returns false on a bad escape.
bool UnescapeJsonString(std::string_view escaped, std::string* out);

}  // namespace sluice
