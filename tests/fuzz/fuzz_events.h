#pragma once
// The fuzz inputs that carry events: the events are the bytes separated by
// '\n' (event_parser_fuzz, condition_set_check.h).

#include <cstddef>
#include <string_view>
#include <vector>

namespace sluice::fuzz {

// The first `max` events of `in` (at least one, maybe empty).
inline std::vector<std::string_view> SplitEvents(std::string_view in, size_t max) {
  std::vector<std::string_view> events;
  for (size_t from = 0; events.size() < max;) {
    const size_t nl = in.find('\n', from);
    events.push_back(in.substr(from, nl == std::string_view::npos ? std::string_view::npos : nl - from));
    if (nl == std::string_view::npos) break;
    from = nl + 1;
  }
  return events;
}

}  // namespace sluice::fuzz
