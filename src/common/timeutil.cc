#include "common/timeutil.h"

#include <chrono>
#include <cstdio>
#include <cstring>

namespace sluice {

// Howard Hinnant's days_from_civil / civil_from_days.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp + (mp < 10 ? 3 : -9);
  *y = static_cast<int>(yy + (*m <= 2));
}

namespace {
bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// Seconds since the epoch of the validated "YYYY-MM-DDTHH:MM" in s[0, 16)
// (s.size() >= 19).
bool PrefixSeconds(std::string_view s, int64_t* out) {
  int y, mo, d, h, mi;
  if (!Digits(s, 0, 4, &y) || s[4] != '-' || !Digits(s, 5, 2, &mo) || s[7] != '-' || !Digits(s, 8, 2, &d) ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !Digits(s, 11, 2, &h) || s[13] != ':' ||
      !Digits(s, 14, 2, &mi)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59) return false;
  *out = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60;
  return true;
}

// The rest from s[16]: ":SS", an optional fraction, an optional offset.
bool ParseAfterMinute(std::string_view s, int64_t prefix_secs, int64_t* out_us) {
  int se;
  if (s[16] != ':' || !Digits(s, 17, 2, &se) || se > 60) return false;
  size_t p = 19;
  int64_t frac_us = 0;
  if (p < s.size() && (s[p] == '.' || s[p] == ',')) {
    ++p;
    int digits = 0;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
      if (digits < 6) frac_us = frac_us * 10 + (s[p] - '0');
      ++digits;
      ++p;
    }
    if (digits == 0) return false;
    for (int i = digits; i < 6; ++i) frac_us *= 10;
  }
  int64_t offset_s = 0;
  if (p < s.size()) {
    if (s[p] == 'Z' || s[p] == 'z') {
      ++p;
    } else if (s[p] == '+' || s[p] == '-') {
      int oh, om;
      int sign = s[p] == '-' ? -1 : 1;
      if (!Digits(s, p + 1, 2, &oh)) return false;
      size_t q = p + 3;
      if (q < s.size() && s[q] == ':') ++q;
      if (!Digits(s, q, 2, &om)) return false;
      offset_s = sign * (oh * 3600 + om * 60);
      p = q + 2;
    } else {
      return false;
    }
  }
  if (p != s.size()) return false;
  *out_us = (prefix_secs + se - offset_s) * 1'000'000 + frac_us;
  return true;
}
}  // namespace

bool ParseRfc3339UsUncached(std::string_view s, int64_t* out_us) {
  int64_t prefix_secs;
  if (s.size() < 19 || !PrefixSeconds(s, &prefix_secs)) return false;
  return ParseAfterMinute(s, prefix_secs, out_us);
}

// Timestamps of one stream nearly always share their minute: the date and
// time up to the minute are validated and converted once per thread while
// they repeat (ParseRfc3339Us was ~2% of the syslog → Elasticsearch profile).
bool ParseRfc3339Us(std::string_view s, int64_t* out_us) {
  struct Minute {
    char text[16];
    int64_t secs;
    bool set = false;
  };
  thread_local Minute last;
  if (s.size() < 19) return false;
  int64_t prefix_secs;
  if (last.set && std::memcmp(last.text, s.data(), 16) == 0) {
    prefix_secs = last.secs;
  } else {
    if (!PrefixSeconds(s, &prefix_secs)) return false;
    std::memcpy(last.text, s.data(), 16);
    last.secs = prefix_secs;
    last.set = true;
  }
  return ParseAfterMinute(s, prefix_secs, out_us);
}

bool ParseRfc3339Ms(std::string_view s, int64_t* out_ms) {
  int64_t us;
  if (!ParseRfc3339Us(s, &us)) return false;
  *out_ms = us >= 0 ? us / 1000 : -((-us + 999) / 1000);
  return true;
}

void AppendRfc3339Ms(int64_t ms, std::string* out) {
  int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  int millis = static_cast<int>(ms - secs * 1000);
  int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  int64_t rem = secs - days * 86400;
  int y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  char buf[40];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", y, m, d, static_cast<int>(rem / 3600),
                        static_cast<int>(rem / 60 % 60), static_cast<int>(rem % 60), millis);
  out->append(buf, n);
}

std::string FormatRfc3339Ms(int64_t ms) {
  std::string s;
  AppendRfc3339Ms(ms, &s);
  return s;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace sluice
