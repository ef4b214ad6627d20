#include "ingest/syslog/syslog_parser.h"

#include "ingest/syslog/rfc5424.h"

namespace sluice::syslog {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Beats trims the message too: relays such as rsyslog put the space that
// followed the RFC 3164 tag in front of MSG when they re-emit it as RFC 5424.
std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r' ||
                        s.back() == '\0')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

size_t ParsePri(std::string_view s, int* pri) {
  if (s.size() < 3 || s[0] != '<') return 0;
  int v = 0;
  size_t i = 1;
  while (i < s.size() && i <= 4 && IsDigit(s[i])) v = v * 10 + (s[i++] - '0');
  if (i == 1 || i > 4 || i >= s.size() || s[i] != '>' || v > 191) return 0;
  *pri = v;
  return i + 1;
}

std::string_view StripTrailer(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == '\0')) s.remove_suffix(1);
  return s;
}

bool ParseSyslog(std::string_view frame, const Rfc3164Clock& clock, SyslogMessage* m) {
  m->Reset();
  std::string_view s = StripTrailer(frame);
  // An octet count in front of the message inside a datagram.
  if (!s.empty() && IsDigit(s[0])) {
    size_t i = 0;
    while (i < s.size() && i < 10 && IsDigit(s[i])) ++i;
    if (i + 1 < s.size() && s[i] == ' ' && s[i + 1] == '<') s.remove_prefix(i + 1);
  }
  int pri = 0;
  size_t n = ParsePri(s, &pri);
  if (n == 0) {
    m->message = TrimSpace(s);
    return false;
  }
  std::string_view rest = s.substr(n);
  m->priority = pri;
  if (!rest.empty() && IsDigit(rest[0]) && ParseRfc5424(rest, m)) {
    m->format = SyslogFormat::kRfc5424;
  } else {
    m->Reset();
    m->priority = pri;
    if (!ParseRfc3164(rest, clock, m)) {
      // `<PRI>` and nothing else: keep it, with an empty message.
      m->message = {};
    }
    m->format = SyslogFormat::kRfc3164;
  }
  m->message = TrimSpace(m->message);
  return true;
}

}  // namespace sluice::syslog
