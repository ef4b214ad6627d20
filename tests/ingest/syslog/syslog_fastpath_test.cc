// Differential tests of the syslog input's fast paths: the ECS writer (one
// pass into a scratch buffer, SD values copied without unescaping when they
// hold no escape, hostname/appname escaped once) against a plain reference
// writer built from std::string appends, on many generated messages; and the
// RFC 3164 year inference against trying all three candidate years.

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/json_util.h"
#include "common/strings.h"
#include "common/timeutil.h"
#include "ecs_test_util.h"
#include "ingest/syslog/ecs_writer.h"
#include "ingest/syslog/framing.h"
#include "ingest/syslog/rfc3164.h"
#include "ingest/syslog/rfc5424.h"
#include "ingest/syslog/syslog_parser.h"

namespace sluice::syslog {
namespace {

// "2026-11-21T05:30:59.285Z" (or 6 fractional digits), from first principles.
std::string RefTimestamp(int64_t us) {
  int64_t secs = us >= 0 ? us / 1'000'000 : -((-us + 999'999) / 1'000'000);
  const int64_t frac = us - secs * 1'000'000;
  int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  const int64_t rem = secs - days * 86400;
  int y;
  unsigned mo, d;
  CivilFromDays(days, &y, &mo, &d);
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lld.", y, mo, d,
                        static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                        static_cast<long long>(rem % 60));
  if (frac % 1000 == 0) {
    n += std::snprintf(buf + n, sizeof buf - n, "%03lldZ", static_cast<long long>(frac / 1000));
  } else {
    n += std::snprintf(buf + n, sizeof buf - n, "%06lldZ", static_cast<long long>(frac));
  }
  return std::string(buf, n);
}

// The ECS document of PROTOCOLS.md §5.7, written the simple way.
std::string RefEcs(const SyslogMessage& m, const EcsFrame& f, bool keep_original) {
  std::string o = "{\"@timestamp\":\"" + RefTimestamp(m.has_timestamp ? m.timestamp_us : f.received_us) + "\"";
  o += ",\"message\":";
  AppendJsonString(m.message, &o);
  const int p = m.priority >= 0 && m.priority < 192 ? m.priority : 13;
  o += StrCat(",\"log\":{\"syslog\":{\"priority\":", p, ",\"facility\":{\"code\":", p >> 3, ",\"name\":\"",
              FacilityName(p >> 3), "\"},\"severity\":{\"code\":", p & 7, ",\"name\":\"", SeverityName(p & 7), "\"}");
  auto field = [&](const char* key, std::string_view v) {
    if (v.empty()) return;
    o += StrCat(",\"", key, "\":");
    AppendJsonString(v, &o);
  };
  field("hostname", m.hostname);
  field("appname", m.appname);
  field("procid", m.procid);
  field("msgid", m.msgid);
  field("version", m.version);
  if (!m.structured_data.empty()) {
    o += ",\"structured_data\":{";
    std::vector<std::string> ids, names;
    bool skip = false, any = false, first_param = true;
    ForEachSdParam(
        m.structured_data,
        [&](std::string_view id) {
          if (any && !skip) o += "}";
          skip = false;
          for (const auto& prev : ids) skip = skip || prev == id;
          if (skip) return;
          if (any) o += ",";
          any = true;
          ids.emplace_back(id);
          names.clear();
          first_param = true;
          AppendJsonString(id, &o);
          o += ":{";
        },
        [&](std::string_view name, std::string_view raw, bool) {
          if (skip) return;
          for (const auto& prev : names) {
            if (prev == name) return;
          }
          names.emplace_back(name);
          if (!first_param) o += ",";
          first_param = false;
          AppendJsonString(name, &o);
          o += ":";
          std::string value;
          UnescapeSdValue(raw, &value);
          AppendJsonString(value, &o);
        });
    if (any && !skip) o += "}";
    o += "}";
  }
  o += "}}";
  if (!m.hostname.empty()) {
    o += ",\"host\":{\"hostname\":";
    AppendJsonString(m.hostname, &o);
    o += "}";
  }
  if (!m.appname.empty()) {
    o += ",\"process\":{\"name\":";
    AppendJsonString(m.appname, &o);
    bool digits = !m.procid.empty() && m.procid.size() <= 18;
    for (char c : m.procid) digits = digits && c >= '0' && c <= '9';
    if (digits) o += StrCat(",\"pid\":", std::strtoll(std::string(m.procid).c_str(), nullptr, 10));
    o += "}";
  }
  if (!f.source_ip.empty()) {
    o += ",\"source\":{\"ip\":";
    AppendJsonString(f.source_ip, &o);
    o += "}";
  }
  if (keep_original) {
    o += ",\"event\":{\"original\":";
    AppendJsonString(f.raw, &o);
    o += "}";
  }
  const bool failed = m.format == SyslogFormat::kUnparsed;
  if (failed || f.truncated) {
    o += ",\"tags\":[";
    if (failed) o += "\"_syslogparsefailure\"";
    if (failed && f.truncated) o += ",";
    if (f.truncated) o += "\"_syslogtruncated\"";
    o += "]";
  }
  o += "}";
  return o;
}

// Random syslog lines: RFC 5424 with nil and odd header fields and structured
// data full of escapes, repeats, control and non-ASCII bytes; RFC 3164 with
// and without host, tag and pid; and lines no parser accepts.
class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  std::string Line() {
    switch (Pick(10)) {
      case 0: return Garbage();
      case 1: case 2: case 3: case 4: return Rfc3164();
      default: return Rfc5424();
    }
  }

 private:
  size_t Pick(size_t n) { return rng_() % n; }
  bool Chance(size_t one_in) { return Pick(one_in) == 0; }

  // Mostly plain ASCII, sometimes a byte that needs escaping or is not ASCII.
  std::string Text(size_t max, bool allow_space = true) {
    static const std::vector<std::string> odd = {"\"", "\\", "\t", "\x01", "\x7f", "\xC3\xA9", "\xE2\x82\xAC",
                                                 "\xFF", "\xC3", "]", "=", "\xEF\xBB\xBF"};
    std::string s;
    const size_t n = Pick(max + 1);
    while (s.size() < n) {
      if (Chance(12)) s += odd[Pick(odd.size())];
      else if (allow_space && Chance(8)) s += ' ';
      else s += static_cast<char>('!' + Pick(94));
    }
    return s;
  }
  // A header token (PRINTUSASCII, no space): '"' and '\' included.
  std::string Token(size_t max) {
    std::string s;
    const size_t n = 1 + Pick(max);
    for (size_t i = 0; i < n; ++i) s += Chance(15) ? (Chance(2) ? '"' : '\\') : static_cast<char>('0' + Pick(75));
    return s;
  }
 public:
  std::string SdName() {
    static const std::vector<std::string> names = {"id", "order", "a", "meta@32473", "x\\y", "trace@1", "é"};
    std::string s = names[Pick(names.size())];
    if (s == "é") s = "k" + std::to_string(Pick(5));
    return s;
  }
  std::string SdValue() {
    std::string v;
    const size_t n = Pick(40);
    while (v.size() < n) {
      switch (Pick(14)) {
        case 0: v += "\\\""; break;
        case 1: v += "\\\\"; break;
        case 2: v += "\\]"; break;
        case 3: v += "\\n"; break;  // a backslash before anything else stays
        case 4: v += "\xC3\xA9"; break;
        case 5: v += "\x02"; break;
        case 6: v += ']'; break;
        default: v += static_cast<char>('a' + Pick(26));
      }
    }
    return v;
  }
 private:
  std::string Sd() {
    if (Chance(4)) return "-";
    std::string sd;
    const size_t elements = 1 + Pick(4);
    for (size_t e = 0; e < elements; ++e) {
      sd += '[';
      sd += SdName();
      const size_t params = Pick(4);
      for (size_t p = 0; p < params; ++p) sd += StrCat(" ", SdName(), "=\"", SdValue(), "\"");
      sd += ']';
    }
    return sd;
  }
  std::string Nilable(std::string v) { return Chance(5) ? "-" : v; }
  std::string Rfc5424() {
    std::string ts = Chance(6) ? "-"
                               : StrCat("2026-", 1 + Pick(12), "-1", Pick(10), "T0", Pick(10), ":1", Pick(10), ":2",
                                        Pick(10), Chance(2) ? StrCat(".", Pick(1000000)) : "", Chance(2) ? "Z" : "+02:00");
    // Zero-pad the month (a one-digit month is not RFC 3339).
    if (ts.size() > 6 && ts[6] == '-') ts.insert(5, "0");
    std::string line = StrCat("<", Pick(192), ">1 ", ts, " ", Nilable(Token(20)), " ", Nilable(Token(12)), " ",
                              Nilable(Chance(2) ? std::to_string(Pick(100000)) : Token(6)), " ", Nilable(Token(8)), " ",
                              Sd());
    if (!Chance(5)) line += " " + (Chance(8) ? std::string("\xEF\xBB\xBF") : std::string()) + Text(200);
    return line;
  }
  std::string Rfc3164() {
    static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const size_t day = 1 + Pick(31);
    std::string line = StrCat("<", Pick(192), ">", months[Pick(12)], day < 10 ? "  " : " ", day, " ", Pick(24) / 10,
                              Pick(10), ":", Pick(6), Pick(10), ":", Pick(6), Pick(10), " ");
    if (!Chance(4)) line += Token(15) + " ";
    switch (Pick(4)) {
      case 0: line += Token(10) + "[" + std::to_string(Pick(65536)) + "]: "; break;
      case 1: line += Token(10) + ": "; break;
      case 2: line += Token(10) + "[" + std::to_string(Pick(65536)) + "] "; break;
      default: break;
    }
    return line + Text(200);
  }
  std::string Garbage() { return Text(100); }

  std::mt19937 rng_;
};

// SdValueEnd against the byte-by-byte loop it replaced, on values full of
// escapes, quotes, trailing backslashes and non-ASCII bytes, of every length
// around the 8/16/32-byte steps of its scan.
TEST(SyslogEcsFastPath, SdValueEndMatchesByteLoop) {
  std::mt19937 rng(5424);
  const std::string alphabet = std::string("ab\\\"]=\x01\x7f\xC3\xA9 ") + std::string(1, '\0');
  for (int k = 0; k < 200000; ++k) {
    std::string s(rng() % 80, 'x');
    for (char& c : s) c = rng() % 4 == 0 ? alphabet[rng() % alphabet.size()] : static_cast<char>('a' + rng() % 26);
    const size_t start = s.empty() ? 0 : rng() % (s.size() + 1);
    size_t want = std::string_view::npos;
    bool want_plain = true;
    for (size_t i = start; i < s.size();) {
      if (s[i] == '"') {
        want = i;
        break;
      }
      const unsigned char c = static_cast<unsigned char>(s[i]);
      if (c == '\\' || c < 0x20 || c >= 0x80) want_plain = false;
      i += s[i] == '\\' ? 2 : 1;
    }
    bool plain = false;
    ASSERT_EQ(SdValueEnd(s, start, &plain), want) << s << " from " << start;
    if (want != std::string_view::npos) {
      ASSERT_EQ(plain, want_plain) << s << " from " << start;
    }
  }
}

// NextHeaderField (32 bytes a step) against the byte loop it replaced plus a
// search for '"' and '\\' (the old header_plain scan), on strings of spaces,
// printable bytes, quotes, backslashes, controls, DEL and non-ASCII bytes, of
// every length around the 32-byte step, from every start.
TEST(SyslogEcsFastPath, NextHeaderFieldMatchesByteLoop) {
  std::mt19937 rng(6424);
  const std::string odd = std::string("  \"\\\x01\x1f\x7f\x80\xC3\xA9~!") + std::string(1, '\0');
  for (int k = 0; k < 300000; ++k) {
    std::string s(rng() % 100, 'x');
    const unsigned rate = 2 + rng() % 60;  // one odd byte in `rate`
    for (char& c : s) c = rng() % rate == 0 ? odd[rng() % odd.size()] : static_cast<char>(33 + rng() % 94);
    const size_t from = rng() % (s.size() + 1);
    // The reference.
    size_t i = from;
    while (i < s.size() && s[i] == ' ') ++i;
    const size_t start = i;
    bool want_ok = true, want_quoted = false;
    while (i < s.size() && s[i] != ' ') {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      if (c < 33 || c > 126) {
        want_ok = false;
        break;
      }
      want_quoted |= c == '"' || c == '\\';
      ++i;
    }
    if (i == start) want_ok = false;
    size_t pos = from;
    std::string_view field;
    bool quoted = false;
    ASSERT_EQ(NextHeaderField(s, &pos, &field, &quoted), want_ok) << s << " from " << from;
    if (!want_ok) {
      ASSERT_EQ(pos, from);
      continue;
    }
    ASSERT_EQ(field, std::string_view(s).substr(start, i - start)) << s << " from " << from;
    ASSERT_EQ(pos, i);
    ASSERT_EQ(quoted, want_quoted) << s << " from " << from;
    bool stays = true;  // a field without quotes leaves the flag as it was
    NextHeaderField(s, &(pos = from), &field, &stays);
    ASSERT_TRUE(stays);
  }
}

// SdNameEnd (32 bytes a step) against the byte loop it replaced, with a
// search for backslashes, on the same kind of strings.
TEST(SyslogEcsFastPath, SdNameEndMatchesByteLoop) {
  std::mt19937 rng(5427);
  const std::string odd = std::string(" =]\"\\\x01\x7f\x80\xC3\xA9~!") + std::string(1, '\0');
  for (int k = 0; k < 300000; ++k) {
    std::string s(rng() % 100, 'x');
    const unsigned rate = 2 + rng() % 60;
    for (char& c : s) c = rng() % rate == 0 ? odd[rng() % odd.size()] : static_cast<char>(33 + rng() % 94);
    const size_t from = rng() % (s.size() + 1);
    size_t want = from;
    bool want_backslash = false;
    for (; want < s.size(); ++want) {
      const unsigned char c = static_cast<unsigned char>(s[want]);
      if (c < 33 || c > 126 || c == '=' || c == ']' || c == '"') break;
      want_backslash |= c == '\\';
    }
    bool backslash = false;
    ASSERT_EQ(SdNameEnd(s, from, &backslash), want) << s << " from " << from;
    ASSERT_EQ(backslash, want_backslash) << s << " from " << from;
  }
}

// FrameSplitter::FindTrailer (one vector pass for LF or NUL) against the two
// memchr calls it replaced, on buffers with sparse trailers at every offset.
TEST(SyslogEcsFastPath, FindTrailerMatchesMemchr) {
  std::mt19937 rng(6587);
  for (int k = 0; k < 100000; ++k) {
    std::string s(rng() % 300, 'x');
    const size_t trailers = rng() % 4;
    for (size_t t = 0; t < trailers && !s.empty(); ++t) s[rng() % s.size()] = rng() % 2 ? '\n' : '\0';
    const size_t from = rng() % (s.size() + 1);
    const char* base = s.data() + from;
    const size_t n = s.size() - from;
    const void* lf = std::memchr(base, '\n', n);
    const size_t upto = lf ? static_cast<const char*>(lf) - base : n;
    const void* nul = std::memchr(base, '\0', upto);
    size_t want = std::string_view::npos;
    if (nul) want = from + (static_cast<const char*>(nul) - base);
    else if (lf) want = from + upto;
    ASSERT_EQ(FrameSplitter::FindTrailer(s, from), want);
  }
}

// Rfc3164Clock::ToUnixUs (which skips the neighbouring years when the date
// is within 180 days of the receive time) against trying all three years,
// in UTC and in a zone with DST, for receive times all around the year.
TEST(SyslogEcsFastPath, Rfc3164YearMatchesTryingEveryYear) {
  absl::TimeZone berlin;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Berlin", &berlin));
  std::mt19937 rng(3164);
  for (absl::TimeZone tz : {absl::UTCTimeZone(), berlin}) {
    Rfc3164Clock clock(tz);
    for (int k = 0; k < 40000; ++k) {
      const int64_t now_us = 1'700'000'000'000'000 + static_cast<int64_t>(rng() % 200'000'000) * 1'000'000;
      clock.SetNow(now_us);
      const int month = 1 + rng() % 12, day = 1 + rng() % 31, hour = rng() % 24, minute = rng() % 60,
                second = rng() % 60, micros = rng() % 1000000;
      const int64_t year = absl::ToCivilSecond(absl::FromUnixMicros(now_us), tz).year();
      const int64_t now_s = now_us / 1'000'000;
      int64_t best = 0;
      bool first = true;
      for (int64_t y : {year, year - 1, year + 1}) {
        const int64_t t = absl::ToUnixSeconds(absl::FromCivil(absl::CivilSecond(y, month, day, hour, minute, second), tz));
        if (first || std::llabs(t - now_s) < std::llabs(best - now_s)) best = t;
        first = false;
      }
      ASSERT_EQ(clock.ToUnixUs(month, day, hour, minute, second, micros), best * 1'000'000 + micros)
          << month << "/" << day << " " << hour << ":" << minute << ":" << second << " now " << now_us;
    }
  }
}

// The SD index ScanStructuredData makes against walking the SD again: the
// same calls, on SDs of up to 12 elements of up to 6 parameters (beyond the
// index's 8 and 16: then there is no index and the walk is used), and none
// left behind by an SD that turns out invalid.
TEST(SyslogEcsFastPath, SdIndexMatchesTheWalk) {
  Generator gen(5425);
  std::mt19937 rng(5426);
  size_t indexed = 0, walked = 0;
  for (int k = 0; k < 40000; ++k) {
    std::string sd;
    const size_t elements = 1 + rng() % 12;
    for (size_t e = 0; e < elements; ++e) {
      sd += "[" + gen.SdName();
      const size_t params = rng() % 7;
      for (size_t p = 0; p < params; ++p) sd += StrCat(" ", gen.SdName(), "=\"", gen.SdValue(), "\"");
      sd += "]";
    }
    const std::string text = sd + (k % 2 ? " message" : "");
    SdIndex index;
    const size_t n = ScanStructuredData(text, &index);
    if (n == 0) {  // names with '"' or '=' make some invalid
      ASSERT_EQ(index.elements, -1) << text;
      continue;
    }
    ASSERT_EQ(n, sd.size()) << text;
    std::string_view v(text.data(), n);
    auto record = [](std::string* log) {
      return std::make_pair([log](std::string_view id) { *log += StrCat("[", id, "]"); },
                            [log](std::string_view name, std::string_view raw, bool plain) {
                              *log += StrCat(name, "=", raw, plain ? "|p;" : "|e;");
                            });
    };
    std::string want, got;
    auto [we, wp] = record(&want);
    ForEachSdParam(v, we, wp);
    auto [ge, gp] = record(&got);
    ForEachSdParam(v, index, ge, gp);
    ASSERT_EQ(got, want) << text;
    (index.elements >= 0 ? indexed : walked) += 1;
  }
  EXPECT_GT(indexed, 5000u);
  EXPECT_GT(walked, 1000u);
}

TEST(SyslogEcsFastPath, SameDocumentAsTheReferenceWriter) {
  Generator gen(20261121);
  Rfc3164Clock clock(absl::UTCTimeZone());
  clock.SetNow(1'795'000'000'000'000);
  size_t by_format[3] = {0, 0, 0}, with_sd = 0;
  std::string out;
  for (int i = 0; i < 60000; ++i) {
    const std::string line = gen.Line();
    SyslogMessage m;
    ParseSyslog(line, clock, &m);
    ++by_format[static_cast<int>(m.format)];
    with_sd += !m.structured_data.empty();
    EcsFrame f{StripTrailer(line), i % 7 == 0 ? "" : "2001:db8::7", 1'795'000'000'123'000 + i, i % 11 == 0};
    const bool keep = i % 3 == 0;
    out.assign("prefix");  // appends after what the arena holds already
    AppendEcsEvent(m, f, keep, &out);
    ASSERT_EQ(out.substr(6), RefEcs(m, f, keep)) << line;
    if (i % 50 == 0) {
      ASSERT_TRUE(testing::ValidJson(out.substr(6))) << line;
    }
  }
  // The generator reaches every path.
  EXPECT_GT(by_format[0], 1000u);
  EXPECT_GT(by_format[1], 10000u);
  EXPECT_GT(by_format[2], 10000u);
  EXPECT_GT(with_sd, 10000u);
}

}  // namespace
}  // namespace sluice::syslog
