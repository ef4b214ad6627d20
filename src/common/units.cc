#include "common/units.h"

#include <cctype>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "common/strings.h"

namespace sluice {
namespace {
std::string_view Trim(std::string_view t) {
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.remove_prefix(1);
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.remove_suffix(1);
  return t;
}
// Splits "123unit" into its number and its unit.
bool SplitNumber(std::string_view text, double* number, std::string* unit) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0) return false;
  if (!absl::SimpleAtod(std::string(text.substr(0, i)), number)) return false;
  *unit = absl::AsciiStrToLower(absl::StripAsciiWhitespace(std::string(text.substr(i))));
  return true;
}
}  // namespace

absl::StatusOr<int64_t> ParseDurationMs(std::string_view text) {
  double n;
  std::string unit;
  if (!SplitNumber(Trim(text), &n, &unit)) {
    return absl::InvalidArgumentError(StrCat("invalid duration \"", text, "\", expected e.g. 500ms, 30s, 5m, 1h"));
  }
  double ms;
  if (unit.empty() || unit == "ms") ms = n;
  else if (unit == "s") ms = n * 1000;
  else if (unit == "m") ms = n * 60'000;
  else if (unit == "h") ms = n * 3'600'000;
  else if (unit == "d") ms = n * 86'400'000;
  else return absl::InvalidArgumentError(StrCat("invalid duration unit \"", unit, "\" in \"", text, "\", expected ms, s, m, h or d"));
  return static_cast<int64_t>(ms);
}

absl::StatusOr<uint64_t> ParseBytes(std::string_view text) {
  double n;
  std::string unit;
  if (!SplitNumber(Trim(text), &n, &unit)) {
    return absl::InvalidArgumentError(StrCat("invalid size \"", text, "\", expected e.g. 64KiB, 256MiB, 1GiB"));
  }
  double mult;
  if (unit.empty() || unit == "b") mult = 1;
  else if (unit == "kib" || unit == "k") mult = 1024.0;
  else if (unit == "mib" || unit == "m") mult = 1024.0 * 1024;
  else if (unit == "gib" || unit == "g") mult = 1024.0 * 1024 * 1024;
  else if (unit == "kb") mult = 1e3;
  else if (unit == "mb") mult = 1e6;
  else if (unit == "gb") mult = 1e9;
  else return absl::InvalidArgumentError(StrCat("invalid size unit \"", unit, "\" in \"", text, "\", expected B, KiB, MiB, GiB, kB, MB or GB"));
  return static_cast<uint64_t>(n * mult);
}

}  // namespace sluice
