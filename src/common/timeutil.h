#pragma once
// Fast timestamp parsing and formatting for the data path.

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

// Days since 1970-01-01 of a proleptic Gregorian date.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);
void CivilFromDays(int64_t z, int* y, unsigned* m, unsigned* d);

// Parses an RFC 3339 / ISO 8601 timestamp ("2026-11-21T05:30:59.285Z",
// "2026-11-21T05:30:59.285610+01:00", "2026-11-21 05:30:59Z") into Unix
// milliseconds (fraction truncated to ms). Returns false if it is not one.
bool ParseRfc3339Ms(std::string_view text, int64_t* out_ms);
// Same, to microseconds. Remembers the last "YYYY-MM-DDTHH:MM" per thread.
bool ParseRfc3339Us(std::string_view text, int64_t* out_us);
// ParseRfc3339Us without the per-thread memory (the reference in tests).
bool ParseRfc3339UsUncached(std::string_view text, int64_t* out_us);

// "2026-11-21T05:30:59.285Z" (UTC, millisecond precision: Filebeat's format).
std::string FormatRfc3339Ms(int64_t ms);
void AppendRfc3339Ms(int64_t ms, std::string* out);

// Current wall-clock time in Unix milliseconds.
int64_t NowMs();

}  // namespace sluice
