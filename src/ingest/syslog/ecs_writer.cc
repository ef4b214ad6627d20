#include "ingest/syslog/ecs_writer.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/json_util.h"
#include "common/strings.h"
#include "common/timeutil.h"
#include "ingest/syslog/rfc5424.h"

namespace sluice::syslog {
namespace {

constexpr std::array<std::string_view, 24> kFacilities = {
    "kern",     "user", "mail",  "daemon", "auth",   "syslog", "lpr",    "news",
    "uucp",     "cron", "authpriv", "ftp", "ntp",    "audit",  "alert",  "clock",
    "local0",   "local1", "local2", "local3", "local4", "local5", "local6", "local7"};
constexpr std::array<std::string_view, 8> kSeverities = {"Emergency", "Alert",   "Critical",      "Error",
                                                        "Warning",   "Notice",  "Informational", "Debug"};

void Pad(unsigned v, int width, char* p) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

// memcpy, with the short copies of most fields (hostname, appname, procid,
// SD names and values: up to 32 bytes) done inline as two overlapping fixed
// size copies instead of a call into the library's memmove, which was ~12% of
// the frame + parse + ECS write time (syslog_bench --stage1-only).
struct Bytes16 {
  char b[16];
};

// The first and the last sizeof(T) bytes of `n` (sizeof(T) <= n <= 2 * sizeof(T)):
// both loaded before either is stored.
template <typename T>
inline void CopyEnds(char* to, const char* from, size_t n) {
  T head, tail;
  std::memcpy(&head, from, sizeof(T));
  std::memcpy(&tail, from + n - sizeof(T), sizeof(T));
  std::memcpy(to, &head, sizeof(T));
  std::memcpy(to + n - sizeof(T), &tail, sizeof(T));
}

inline void Copy(char* to, const char* from, size_t n) {
  if (n >= 16 && n <= 32) {
    CopyEnds<Bytes16>(to, from, n);
  } else if (n >= 8 && n < 16) {
    CopyEnds<uint64_t>(to, from, n);
  } else if (n >= 4 && n < 8) {
    CopyEnds<uint32_t>(to, from, n);
  } else if (n < 4) {
    for (size_t k = 0; k < n; ++k) to[k] = from[k];
  } else {
    std::memcpy(to, from, n);
  }
}

// Writes to a buffer sized for the worst case (EcsBound): no capacity check
// per piece, and constant pieces are fixed-size copies the compiler inlines.
// The std::string appends this replaced (some 25 per message, each a call to
// memmove) were, with the escaping scan, ~30% of sluice's CPU on the syslog →
// Elasticsearch path (bench/RESULTS.md, issue 3).
class Writer {
 public:
  explicit Writer(char* p) : p_(p) {}
  template <size_t N>
  void Lit(const char (&s)[N]) {
    std::memcpy(p_, s, N - 1);
    p_ += N - 1;
  }
  void Raw(std::string_view s) {
    Copy(p_, s.data(), s.size());
    p_ += s.size();
  }
  void Char(char c) { *p_++ = c; }
  void Int(int64_t v) { p_ = std::to_chars(p_, p_ + 24, v).ptr; }
  // `"v"`, escaped. The plain prefix (all of it, nearly always) is found by a
  // SIMD scan and copied at once.
  void Str(std::string_view v) {
    *p_++ = '"';
    const size_t plain = JsonPlainPrefix(v);
    Raw(v.substr(0, plain));
    if (plain < v.size()) Escaped(v.substr(plain));
    *p_++ = '"';
  }
  // An RFC 5424 PARAM-VALUE (`\"`, `\\`, `\]` escapes still in) as a JSON string.
  // Without a backslash (or anything else a JSON string cannot hold) the bytes
  // are copied as they are; else unescaped first.
  void SdValue(std::string_view raw, bool plain) {
    if (plain) {
      PlainStr(raw);
      return;
    }
    thread_local std::string value;
    value.clear();
    UnescapeSdValue(raw, &value);
    Str(value);
  }
  void KeyStr(std::string_view key, std::string_view value) {
    Raw(key);
    Str(value);
  }
  // `"v"` for a value known to hold nothing to escape.
  void PlainStr(std::string_view v) {
    *p_++ = '"';
    Raw(v);
    *p_++ = '"';
  }
  // Str, or PlainStr when `plain`.
  void StrIf(bool plain, std::string_view v) {
    if (plain) PlainStr(v);
    else Str(v);
  }
  // Copies bytes written before (`from` returned by pos()).
  void Again(const char* from, const char* to) {
    Copy(p_, from, static_cast<size_t>(to - from));
    p_ += to - from;
  }
  char* pos() const { return p_; }

 private:
  void Escaped(std::string_view v) {
    thread_local std::string escaped;
    escaped.clear();
    AppendJsonEscaped(v, &escaped);
    Raw(escaped);
  }
  char* p_;
};

// An upper bound of what AppendEcsEvent writes for `m`: escaping makes a byte
// at most 6 (\u00XX); hostname and appname are written twice; structured
// data is re-shaped (quotes, braces, colons for ids and names: at most 6 more
// bytes per SD byte).
size_t EcsBound(const SyslogMessage& m, const EcsFrame& frame, bool keep_original) {
  size_t variable = m.message.size() + 2 * m.hostname.size() + 2 * m.appname.size() + m.procid.size() +
                    m.msgid.size() + m.version.size() + 2 * m.structured_data.size() + frame.source_ip.size();
  if (keep_original) variable += frame.raw.size();
  return 6 * variable + 640;
}

// `,"log":{"syslog":{"priority":134,"facility":{"code":16,"name":"local0"},"severity":{"code":6,"name":"Informational"}`
// for each of the 192 priorities, made once.
const std::string& PriorityFragment(int priority) {
  static const std::array<std::string, 192> table = [] {
    std::array<std::string, 192> t;
    for (int p = 0; p < 192; ++p) {
      t[p] = StrCat(",\"log\":{\"syslog\":{\"priority\":", p, ",\"facility\":{\"code\":", p >> 3, ",\"name\":\"",
                    kFacilities[p >> 3], "\"},\"severity\":{\"code\":", p & 7, ",\"name\":\"", kSeverities[p & 7],
                    "\"}");
    }
    return t;
  }();
  return table[priority >= 0 && priority < 192 ? priority : 13];
}

// "00" to "99".
constexpr std::array<char, 200> kTwoDigits = [] {
  std::array<char, 200> t{};
  for (int i = 0; i < 100; ++i) {
    t[2 * i] = static_cast<char>('0' + i / 10);
    t[2 * i + 1] = static_cast<char>('0' + i % 10);
  }
  return t;
}();

void TwoDigits(unsigned v, char* p) { std::memcpy(p, &kTwoDigits[2 * v], 2); }

// "2026-11-21T05:30:59.285610Z" (or ".285Z" for whole milliseconds). The date
// and time of the second are made once per second per thread (messages of one
// read nearly always share it); within that second the fraction is `us` minus
// the second's first microsecond, without a division.
void WriteTimestampUs(int64_t us, Writer* w) {
  struct Second {
    int64_t first_us = 0;
    bool set = false;
    char text[20];
  };
  thread_local Second cached;
  uint64_t frac = static_cast<uint64_t>(us) - static_cast<uint64_t>(cached.first_us);
  if (!cached.set || frac >= 1'000'000) {
    const int64_t secs = us >= 0 ? us / 1'000'000 : -((-us + 999'999) / 1'000'000);
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    unsigned rem = static_cast<unsigned>(secs - days * 86400);
    int y;
    unsigned mo, d;
    CivilFromDays(days, &y, &mo, &d);
    if (y < 0 || y > 9999) y = y < 0 ? 0 : 9999;
    char* t = cached.text;
    std::memcpy(t, "0000-00-00T00:00:00.", 20);
    Pad(static_cast<unsigned>(y), 4, t);
    Pad(mo, 2, t + 5);
    Pad(d, 2, t + 8);
    Pad(rem / 3600, 2, t + 11);
    Pad(rem / 60 % 60, 2, t + 14);
    Pad(rem % 60, 2, t + 17);
    cached.first_us = secs * 1'000'000;
    cached.set = true;
    frac = static_cast<uint64_t>(us - cached.first_us);
  }
  const unsigned f = static_cast<unsigned>(frac);
  char buf[28];
  std::memcpy(buf, cached.text, 20);
  size_t n = 20;
  const unsigned ms = f / 1000, sub = f % 1000;
  buf[n] = static_cast<char>('0' + ms / 100);
  TwoDigits(ms % 100, buf + n + 1);
  n += 3;
  if (sub != 0) {
    buf[n] = static_cast<char>('0' + sub / 100);
    TwoDigits(sub % 100, buf + n + 1);
    n += 3;
  }
  buf[n++] = 'Z';
  w->Raw(std::string_view(buf, n));
}

bool AllDigits(std::string_view s) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Structured data as {"SD-ID":{"name":"value"}}. Repeated SD-IDs (forbidden by
// RFC 5424) and repeated parameter names within an element (allowed) keep the
// first occurrence only: Elasticsearch rejects a document with duplicate keys.
void WriteStructuredData(std::string_view sd, const SdIndex& index, Writer* w) {
  thread_local std::vector<std::string_view> ids, names;
  ids.clear();
  // SD-IDs and PARAM-NAMEs are printable ASCII without '"' (checked by the
  // parser): without a backslash anywhere in the SD they need no escaping.
  const bool names_plain =
      index.elements >= 0 ? index.names_plain : std::memchr(sd.data(), '\\', sd.size()) == nullptr;
  w->Lit(",\"structured_data\":{");
  bool skip = false, first_param = true;
  bool any = false;
  ForEachSdParam(
      sd, index,
      [&](std::string_view id) {
        if (any && !skip) w->Char('}');
        skip = false;
        for (auto prev : ids) skip |= prev == id;
        if (skip) return;
        if (any) w->Char(',');
        any = true;
        ids.push_back(id);
        names.clear();
        first_param = true;
        w->StrIf(names_plain, id);
        w->Lit(":{");
      },
      [&](std::string_view name, std::string_view raw, bool plain) {
        if (skip) return;
        for (auto prev : names) {
          if (prev == name) return;
        }
        names.push_back(name);
        if (!first_param) w->Char(',');
        first_param = false;
        w->StrIf(names_plain, name);
        w->Char(':');
        w->SdValue(raw, plain);
      });
  if (any && !skip) w->Char('}');
  w->Char('}');
}

}  // namespace

std::string_view FacilityName(int code) { return code >= 0 && code < 24 ? kFacilities[code] : ""; }
std::string_view SeverityName(int code) { return code >= 0 && code < 8 ? kSeverities[code] : ""; }

void AppendTimestampUs(int64_t us, std::string* out) {
  char buf[32];
  Writer w(buf);
  WriteTimestampUs(us, &w);
  out->append(buf, w.pos());
}

void AppendEcsEvent(const SyslogMessage& m, const EcsFrame& frame, bool keep_original, std::string* out) {
  thread_local std::string scratch;
  const size_t bound = EcsBound(m, frame, keep_original);
  if (scratch.size() < bound) scratch.resize(std::max(bound, scratch.size() * 2));
  Writer w(scratch.data());
  w.Lit("{\"@timestamp\":\"");
  WriteTimestampUs(m.has_timestamp ? m.timestamp_us : frame.received_us, &w);
  w.Lit("\",\"message\":");
  w.Str(m.message);
  w.Raw(PriorityFragment(m.priority));
  // hostname and appname are written twice (log.syslog.* and host/process):
  // escaped once, the second copy is the first one's bytes.
  const char *host_at = nullptr, *host_end = nullptr, *app_at = nullptr, *app_end = nullptr;
  const bool plain = m.header_plain;
  if (!m.hostname.empty()) {
    w.Lit(",\"hostname\":");
    host_at = w.pos();
    w.StrIf(plain, m.hostname);
    host_end = w.pos();
  }
  if (!m.appname.empty()) {
    w.Lit(",\"appname\":");
    app_at = w.pos();
    w.StrIf(plain, m.appname);
    app_end = w.pos();
  }
  if (!m.procid.empty()) {
    w.Lit(",\"procid\":");
    w.StrIf(plain, m.procid);
  }
  if (!m.msgid.empty()) {
    w.Lit(",\"msgid\":");
    w.StrIf(plain, m.msgid);
  }
  if (!m.version.empty()) {
    w.Lit(",\"version\":");
    w.StrIf(plain, m.version);
  }
  if (!m.structured_data.empty()) WriteStructuredData(m.structured_data, m.sd_index, &w);
  w.Lit("}}");

  if (host_at) {
    w.Lit(",\"host\":{\"hostname\":");
    w.Again(host_at, host_end);
    w.Char('}');
  }
  if (app_at) {
    w.Lit(",\"process\":{\"name\":");
    w.Again(app_at, app_end);
    if (AllDigits(m.procid)) {
      int64_t pid = 0;
      for (char c : m.procid) pid = pid * 10 + (c - '0');
      w.Lit(",\"pid\":");
      w.Int(pid);
    }
    w.Char('}');
  }
  if (!frame.source_ip.empty()) {
    w.KeyStr(",\"source\":{\"ip\":", frame.source_ip);
    w.Char('}');
  }
  if (keep_original) {
    w.KeyStr(",\"event\":{\"original\":", frame.raw);
    w.Char('}');
  }
  const bool failed = m.format == SyslogFormat::kUnparsed;
  if (failed || frame.truncated) {
    w.Lit(",\"tags\":[");
    if (failed) w.Lit("\"_syslogparsefailure\"");
    if (failed && frame.truncated) w.Char(',');
    if (frame.truncated) w.Lit("\"_syslogtruncated\"");
    w.Char(']');
  }
  w.Char('}');
  out->append(scratch.data(), w.pos());
}

}  // namespace sluice::syslog
