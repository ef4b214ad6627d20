#pragma once
// String concatenation that accepts std::string_view. (Debian's Abseil is built
// with its own absl::string_view, which does not convert from std::string_view,
// so StrCat cannot take the views that simdjson and our code hand out.)

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/strings/string_view.h"

namespace sluice {
namespace strings_internal {
inline void AppendOne(std::string* out, std::string_view v) { out->append(v); }
inline void AppendOne(std::string* out, const char* v) { out->append(v ? v : "(null)"); }
inline void AppendOne(std::string* out, const std::string& v) { out->append(v); }
inline void AppendOne(std::string* out, absl::string_view v) { out->append(v.data(), v.size()); }
inline void AppendOne(std::string* out, char v) { out->push_back(v); }
inline void AppendOne(std::string* out, bool v) { out->append(v ? "true" : "false"); }
template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>
void AppendOne(std::string* out, T v) {
  if constexpr (std::is_floating_point_v<T>) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<double>(v));
    out->append(buf, r.ptr);
  } else {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out->append(buf, r.ptr);
  }
}
}  // namespace strings_internal

template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  (strings_internal::AppendOne(out, args), ...);
}

template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  StrAppend(&out, args...);
  return out;
}

template <typename Container>
std::string StrJoin(const Container& parts, std::string_view sep) {
  std::string out;
  bool first = true;
  for (const auto& p : parts) {
    if (!first) out.append(sep);
    first = false;
    strings_internal::AppendOne(&out, p);
  }
  return out;
}

// absl::Status::message() as a std::string_view.
inline std::string_view MessageOf(absl::string_view m) { return std::string_view(m.data(), m.size()); }

}  // namespace sluice
