#pragma once
// Reads fields of an ECS event produced by the syslog input, for assertions.

#include <string>
#include <string_view>

#include <simdjson.h>

namespace sluice::syslog::testing {

// The value at dotted `path` of the JSON object `json`: a string's content, a
// number's text, "<missing>" if absent, "<invalid json>" if `json` is not valid.
// Arrays are rendered as JSON.
inline std::string Field(const std::string& json, std::string_view path) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json).get(doc)) return "<invalid json>";
  simdjson::dom::element cur = doc;
  while (!path.empty()) {
    size_t dot = path.find('.');
    std::string_view key = path.substr(0, dot);
    // "@timestamp" and SD-IDs with dots: try the longest key first.
    simdjson::dom::object obj;
    if (cur.get_object().get(obj)) return "<missing>";
    bool found = false;
    for (size_t end = path.size(); end != std::string_view::npos && end > 0;) {
      std::string_view k = path.substr(0, end);
      simdjson::dom::element next;
      if (!obj.at_key(k).get(next)) {
        cur = next;
        path = end == path.size() ? std::string_view() : path.substr(end + 1);
        found = true;
        break;
      }
      end = k.rfind('.');
    }
    (void)key;
    if (!found) return "<missing>";
  }
  if (cur.is_string()) return std::string(cur.get_string().value());
  return simdjson::to_string(cur);
}

inline bool ValidJson(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  return !parser.parse(json).get(doc) && doc.is_object();
}

}  // namespace sluice::syslog::testing
