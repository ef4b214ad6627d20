#pragma once
// Parsing of the human units used in config and rule files.

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"

namespace sluice {

// "250ms", "30s", "5m", "1h", "2d"; a bare integer is taken as milliseconds.
absl::StatusOr<int64_t> ParseDurationMs(std::string_view text);

// "512", "64KiB", "256MiB", "1GiB", "10MB" (decimal), "100kb".
absl::StatusOr<uint64_t> ParseBytes(std::string_view text);

}  // namespace sluice
