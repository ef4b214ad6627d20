#include "ingest/syslog/ecs_writer.h"

#include <array>
#include <charconv>
#include <cstring>
#include <vector>

#include "common/json_util.h"
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

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

void Pad(unsigned v, int width, char* p) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

// True if any of the 8 bytes in `w` is < 0x20, '"', '\\' or >= 0x80 (needs
// escaping or UTF-8 validation). SWAR "has zero byte" tests.
inline bool NeedsCare8(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  auto zero_byte = [&](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  return ((w & kHigh) | ((w - 0x2020202020202020ULL) & ~w & kHigh) | zero_byte(w ^ (kOnes * '"')) |
          zero_byte(w ^ (kOnes * '\\'))) != 0;
}

// AppendJsonString with a fast path for the common case (printable ASCII
// without quotes or backslashes): scanned 8 bytes at a time and copied in one
// append. AppendJsonEscaped, a byte loop, was 17.5% of syslog_bench's
// end-to-end profile; this raised syslog_bench's frame+parse+ECS write stage
// from 1.50M to 2.35M events/CPU-s (bench/RESULTS-syslog.md).
void AppendJsonStr(std::string_view v, std::string* out) {
  out->push_back('"');
  size_t i = 0;
  const size_t n = v.size();
  while (i + 8 <= n) {
    uint64_t w;
    std::memcpy(&w, v.data() + i, 8);
    if (NeedsCare8(w)) break;
    i += 8;
  }
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(v[i]);
    if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
    ++i;
  }
  out->append(v.data(), i);
  if (i < n) AppendJsonEscaped(v.substr(i), out);
  out->push_back('"');
}

void AppendKeyString(std::string_view key, std::string_view value, std::string* out) {
  out->append(key);
  AppendJsonStr(value, out);
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
void AppendStructuredData(std::string_view sd, std::string* out) {
  thread_local std::vector<std::string_view> ids, names;
  thread_local std::string value;
  ids.clear();
  out->append(",\"structured_data\":{");
  bool skip = false, first_param = true;
  bool any = false;
  ForEachSdParam(
      sd,
      [&](std::string_view id) {
        if (any && !skip) out->push_back('}');
        skip = false;
        for (auto prev : ids) skip |= prev == id;
        if (skip) return;
        if (any) out->push_back(',');
        any = true;
        ids.push_back(id);
        names.clear();
        first_param = true;
        AppendJsonStr(id, out);
        out->append(":{");
      },
      [&](std::string_view name, std::string_view raw) {
        if (skip) return;
        for (auto prev : names) {
          if (prev == name) return;
        }
        names.push_back(name);
        if (!first_param) out->push_back(',');
        first_param = false;
        AppendJsonStr(name, out);
        out->push_back(':');
        value.clear();
        UnescapeSdValue(raw, &value);
        AppendJsonStr(value, out);
      });
  if (any && !skip) out->push_back('}');
  out->push_back('}');
}

}  // namespace

std::string_view FacilityName(int code) { return code >= 0 && code < 24 ? kFacilities[code] : ""; }
std::string_view SeverityName(int code) { return code >= 0 && code < 8 ? kSeverities[code] : ""; }

void AppendTimestampUs(int64_t us, std::string* out) {
  int64_t secs = us >= 0 ? us / 1'000'000 : -((-us + 999'999) / 1'000'000);
  unsigned frac = static_cast<unsigned>(us - secs * 1'000'000);
  int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  unsigned rem = static_cast<unsigned>(secs - days * 86400);
  int y;
  unsigned mo, d;
  CivilFromDays(days, &y, &mo, &d);
  if (y < 0 || y > 9999) y = y < 0 ? 0 : 9999;
  char buf[32] = "0000-00-00T00:00:00.";
  Pad(static_cast<unsigned>(y), 4, buf);
  Pad(mo, 2, buf + 5);
  Pad(d, 2, buf + 8);
  Pad(rem / 3600, 2, buf + 11);
  Pad(rem / 60 % 60, 2, buf + 14);
  Pad(rem % 60, 2, buf + 17);
  size_t n = 20;
  if (frac % 1000 == 0) {
    Pad(frac / 1000, 3, buf + n);
    n += 3;
  } else {
    Pad(frac, 6, buf + n);
    n += 6;
  }
  buf[n++] = 'Z';
  out->append(buf, n);
}

void AppendEcsEvent(const SyslogMessage& m, const EcsFrame& frame, bool keep_original, std::string* out) {
  out->append("{\"@timestamp\":\"");
  AppendTimestampUs(m.has_timestamp ? m.timestamp_us : frame.received_us, out);
  out->append("\",\"message\":");
  AppendJsonStr(m.message, out);

  out->append(",\"log\":{\"syslog\":{\"priority\":");
  AppendInt(m.priority, out);
  out->append(",\"facility\":{\"code\":");
  AppendInt(m.facility(), out);
  out->append(",\"name\":\"");
  out->append(FacilityName(m.facility()));
  out->append("\"},\"severity\":{\"code\":");
  AppendInt(m.severity(), out);
  out->append(",\"name\":\"");
  out->append(SeverityName(m.severity()));
  out->push_back('"');
  out->push_back('}');
  if (!m.hostname.empty()) AppendKeyString(",\"hostname\":", m.hostname, out);
  if (!m.appname.empty()) AppendKeyString(",\"appname\":", m.appname, out);
  if (!m.procid.empty()) AppendKeyString(",\"procid\":", m.procid, out);
  if (!m.msgid.empty()) AppendKeyString(",\"msgid\":", m.msgid, out);
  if (!m.version.empty()) AppendKeyString(",\"version\":", m.version, out);
  if (!m.structured_data.empty()) AppendStructuredData(m.structured_data, out);
  out->append("}}");

  if (!m.hostname.empty()) {
    out->append(",\"host\":{\"hostname\":");
    AppendJsonStr(m.hostname, out);
    out->push_back('}');
  }
  if (!m.appname.empty()) {
    out->append(",\"process\":{\"name\":");
    AppendJsonStr(m.appname, out);
    if (AllDigits(m.procid)) {
      int64_t pid = 0;
      for (char c : m.procid) pid = pid * 10 + (c - '0');
      out->append(",\"pid\":");
      AppendInt(pid, out);
    }
    out->push_back('}');
  }
  if (!frame.source_ip.empty()) {
    out->append(",\"source\":{\"ip\":");
    AppendJsonStr(frame.source_ip, out);
    out->push_back('}');
  }
  if (keep_original) {
    out->append(",\"event\":{\"original\":");
    AppendJsonStr(frame.raw, out);
    out->push_back('}');
  }
  const bool failed = m.format == SyslogFormat::kUnparsed;
  if (failed || frame.truncated) {
    out->append(",\"tags\":[");
    if (failed) out->append("\"_syslogparsefailure\"");
    if (failed && frame.truncated) out->push_back(',');
    if (frame.truncated) out->append("\"_syslogtruncated\"");
    out->push_back(']');
  }
  out->push_back('}');
}

}  // namespace sluice::syslog
