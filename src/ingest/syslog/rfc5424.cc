#include "ingest/syslog/rfc5424.h"

#include "common/json_util.h"
#include "common/timeutil.h"

namespace sluice::syslog {
namespace {

// Next space-delimited header field at `*pos`, skipping extra spaces before it.
bool NextField(std::string_view s, size_t* pos, std::string_view* out) {
  size_t i = *pos;
  while (i < s.size() && s[i] == ' ') ++i;
  size_t start = i;
  while (i < s.size() && s[i] != ' ') {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 33 || c > 126) return false;  // header fields are PRINTUSASCII
    ++i;
  }
  if (i == start) return false;
  *out = s.substr(start, i - start);
  *pos = i;
  return true;
}

std::string_view Nil(std::string_view v) { return v == "-" ? std::string_view() : v; }

bool SdNameChar(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return u >= 33 && u <= 126 && c != '=' && c != ']' && c != '"';
}

}  // namespace

size_t ScanStructuredData(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && s[i] == '[') {
    ++i;
    size_t id = i;
    while (i < s.size() && SdNameChar(s[i])) ++i;
    if (i == id || i - id > 32 || i >= s.size()) return 0;
    while (s[i] == ' ') {
      ++i;
      size_t name = i;
      while (i < s.size() && SdNameChar(s[i])) ++i;
      if (i == name || i - name > 32 || i + 1 >= s.size() || s[i] != '=' || s[i + 1] != '"') return 0;
      // The value: an escape, or a literal backslash, takes the byte after it.
      bool plain;
      i = SdValueEnd(s, i + 2, &plain);
      if (i == std::string_view::npos) return 0;
      ++i;
      if (i >= s.size()) return 0;
    }
    if (s[i] != ']') return 0;
    ++i;
  }
  return i;
}

bool ParseRfc5424(std::string_view s, SyslogMessage* m) {
  // VERSION: 1-3 digits, no leading zero, then SP.
  size_t i = 0;
  while (i < s.size() && i < 4 && s[i] >= '0' && s[i] <= '9') ++i;
  if (i == 0 || i > 3 || s[0] == '0' || i >= s.size() || s[i] != ' ') return false;
  m->version = s.substr(0, i);

  std::string_view ts, host, app, procid, msgid;
  if (!NextField(s, &i, &ts) || !NextField(s, &i, &host) || !NextField(s, &i, &app) ||
      !NextField(s, &i, &procid) || !NextField(s, &i, &msgid)) {
    return false;
  }
  // HOSTNAME to MSGID (and the spaces between them) in one scan; VERSION is digits.
  const std::string_view fields(host.data(), static_cast<size_t>(msgid.data() + msgid.size() - host.data()));
  m->header_plain = JsonPlainPrefix(fields) == fields.size();
  if (ts == "-") {
    m->has_timestamp = false;
  } else {
    if (ts.size() < 20 || ts[10] != 'T' || !ParseRfc3339Us(ts, &m->timestamp_us)) return false;
    m->has_timestamp = true;
  }
  m->hostname = Nil(host);
  m->appname = Nil(app);
  m->procid = Nil(procid);
  m->msgid = Nil(msgid);

  // STRUCTURED-DATA
  while (i < s.size() && s[i] == ' ') ++i;
  if (i >= s.size()) return false;
  std::string_view rest = s.substr(i);
  size_t sd_len;
  if (rest[0] == '-') {
    sd_len = 1;
    m->structured_data = {};
  } else {
    sd_len = ScanStructuredData(rest);
    if (sd_len == 0) return false;
    m->structured_data = rest.substr(0, sd_len);
  }
  rest.remove_prefix(sd_len);
  if (!rest.empty()) {
    if (rest[0] != ' ') return false;
    rest.remove_prefix(1);
  }
  if (rest.size() >= 3 && rest.substr(0, 3) == "\xEF\xBB\xBF") rest.remove_prefix(3);
  m->message = rest;
  return true;
}

}  // namespace sluice::syslog
