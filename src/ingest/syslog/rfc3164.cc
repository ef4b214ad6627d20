#include "ingest/syslog/rfc3164.h"

#include <cstdlib>

#include "common/timeutil.h"

namespace sluice::syslog {
namespace {

int MonthOf(std::string_view s) {
  if (s.size() < 3) return 0;
  // Case-insensitive on the last two letters only would accept junk; require
  // the English abbreviation with a capital, as every sender writes it.
  static constexpr std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  for (int i = 0; i < 12; ++i) {
    if (kMonths.substr(i * 3, 3) == s.substr(0, 3)) return i + 1;
  }
  return 0;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool Two(std::string_view s, size_t p, int* out) {
  if (p + 2 > s.size() || !IsDigit(s[p]) || !IsDigit(s[p + 1])) return false;
  *out = (s[p] - '0') * 10 + (s[p + 1] - '0');
  return true;
}

// `Mmm dd hh:mm:ss`, `Mmm  d hh:mm:ss` or `Mmm d hh:mm:ss`, with optional
// `.fraction` (Cisco). Returns the length consumed, or 0.
size_t ParseBsdTimestamp(std::string_view s, const Rfc3164Clock& clock, int64_t* out_us) {
  int month = MonthOf(s);
  if (month == 0 || s.size() < 15 || s[3] != ' ') return 0;
  size_t p = 4;
  if (s[p] == ' ') ++p;  // space-padded day
  int day = 0;
  if (IsDigit(s[p]) && p + 1 < s.size() && IsDigit(s[p + 1])) {
    day = (s[p] - '0') * 10 + (s[p + 1] - '0');
    p += 2;
  } else if (IsDigit(s[p])) {
    day = s[p] - '0';
    p += 1;
  } else {
    return 0;
  }
  int h, mi, se;
  if (p >= s.size() || s[p] != ' ' || !Two(s, p + 1, &h) || p + 3 >= s.size() || s[p + 3] != ':' ||
      !Two(s, p + 4, &mi) || p + 6 >= s.size() || s[p + 6] != ':' || !Two(s, p + 7, &se)) {
    return 0;
  }
  p += 9;
  if (day < 1 || day > 31 || h > 23 || mi > 59 || se > 60) return 0;
  int micros = 0;
  if (p < s.size() && s[p] == '.' && p + 1 < s.size() && IsDigit(s[p + 1])) {
    ++p;
    int digits = 0;
    while (p < s.size() && IsDigit(s[p])) {
      if (digits < 6) micros = micros * 10 + (s[p] - '0');
      ++digits;
      ++p;
    }
    for (int i = digits; i < 6; ++i) micros *= 10;
  }
  *out_us = clock.ToUnixUs(month, day, h, mi, se, micros);
  return p;
}

}  // namespace

Rfc3164Clock::Rfc3164Clock(absl::TimeZone tz) : tz_(tz), utc_(tz == absl::UTCTimeZone()) {}

void Rfc3164Clock::SetNow(int64_t now_us) {
  now_us_ = now_us;
  absl::CivilSecond c = absl::ToCivilSecond(absl::FromUnixMicros(now_us), tz_);
  year_ = c.year();
}

int64_t Rfc3164Clock::CivilToUnixSeconds(int64_t year, int month, int day, int hour, int minute,
                                         int second) const {
  if (utc_) {
    return DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 + hour * 3600 +
           minute * 60 + second;
  }
  return absl::ToUnixSeconds(absl::FromCivil(absl::CivilSecond(year, month, day, hour, minute, second), tz_));
}

int64_t Rfc3164Clock::ToUnixUs(int month, int day, int hour, int minute, int second, int micros) const {
  // The candidate in the receive year, or the year before or after when that
  // one is closer to the receive time (New Year).
  int64_t best = CivilToUnixSeconds(year_, month, day, hour, minute, second);
  const int64_t now_s = now_us_ / 1'000'000;
  // The same date a year earlier or later is at least 365 days (less an
  // hour of DST) away from this one: within 180 days of the receive time,
  // this one is the closest and the other two need not be computed.
  if (std::llabs(best - now_s) <= 180 * 86400) return best * 1'000'000 + micros;
  for (int64_t y : {year_ - 1, year_ + 1}) {
    int64_t t = CivilToUnixSeconds(y, month, day, hour, minute, second);
    if (std::llabs(t - now_s) < std::llabs(best - now_s)) best = t;
  }
  return best * 1'000'000 + micros;
}

bool ParseRfc3164(std::string_view s, const Rfc3164Clock& clock, SyslogMessage* m) {
  if (s.empty()) return false;
  size_t p = 0;
  // Timestamp: BSD form, or an RFC 3339 token (RSYSLOG_ForwardFormat).
  size_t ts_len = ParseBsdTimestamp(s, clock, &m->timestamp_us);
  if (ts_len == 0 && s.size() >= 19 && IsDigit(s[0]) && s[4] == '-') {
    size_t end = s.find(' ');
    std::string_view tok = s.substr(0, end == std::string_view::npos ? s.size() : end);
    if (ParseRfc3339Us(tok, &m->timestamp_us)) ts_len = tok.size();
  }
  if (ts_len == 0) {
    // Headerless: everything after the PRI is the message.
    m->has_timestamp = false;
    m->message = s;
    return true;
  }
  m->has_timestamp = true;
  p = ts_len;
  // Cisco appends a colon to the timestamp.
  if (p < s.size() && s[p] == ':') ++p;
  while (p < s.size() && s[p] == ' ') ++p;

  // HOSTNAME, unless the next token is already the tag (local syslog(3)
  // output has no hostname: `su[123]: text`, `su: text`).
  auto token_end = [&](size_t from) {
    size_t e = s.find(' ', from);
    return e == std::string_view::npos ? s.size() : e;
  };
  size_t e = token_end(p);
  std::string_view tok = s.substr(p, e - p);
  bool is_tag = !tok.empty() && (tok.back() == ':' || tok.find('[') != std::string_view::npos);
  if (!is_tag && !tok.empty() && e < s.size()) {
    m->hostname = tok;
    p = e;
    while (p < s.size() && s[p] == ' ') ++p;
    e = token_end(p);
    tok = s.substr(p, e - p);
  }

  // TAG: `prog[pid]:`, `prog:` or `prog[pid]` followed by a space. Anything
  // else is message text (there is no tag).
  size_t colon = tok.find(':');
  size_t bracket = tok.find('[');
  std::string_view prog, pid;
  size_t content = std::string_view::npos;
  if (bracket != std::string_view::npos && bracket > 0 && (colon == std::string_view::npos || bracket < colon)) {
    size_t close = tok.find(']', bracket);
    if (close != std::string_view::npos && (close + 1 == tok.size() || tok[close + 1] == ':')) {
      prog = tok.substr(0, bracket);
      pid = tok.substr(bracket + 1, close - bracket - 1);
      content = p + close + 1 + (close + 1 < tok.size() ? 1 : 0);
    }
  } else if (colon != std::string_view::npos && colon > 0 && colon + 1 == tok.size()) {
    prog = tok.substr(0, colon);
    content = p + colon + 1;
  }
  if (content == std::string_view::npos) {
    m->message = s.substr(p);
    return true;
  }
  m->appname = prog;
  m->procid = pid;
  if (content < s.size() && s[content] == ' ') ++content;
  m->message = content <= s.size() ? s.substr(content) : std::string_view();
  return true;
}

}  // namespace sluice::syslog
