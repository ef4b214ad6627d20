#pragma once
// One parsed syslog message. Every string_view points into the frame that was
// parsed (the connection's read buffer or a datagram buffer) and is valid only
// until that buffer is reused, i.e. until the next read: the ECS writer
// consumes the message right after parsing.

#include <cstdint>
#include <string_view>

namespace sluice::syslog {

enum class SyslogFormat : uint8_t {
  kUnparsed = 0,  // no parser accepted it: raw text as message, PRI 13, `_syslogparsefailure`
  kRfc3164,
  kRfc5424,
};

struct SyslogMessage {
  SyslogFormat format = SyslogFormat::kUnparsed;
  int priority = 13;               // 0..191
  bool has_timestamp = false;
  // version, hostname, appname, procid and msgid hold nothing JSON escapes
  // (checked once by the RFC 5424 parser): the ECS writer copies them as they are.
  bool header_plain = false;
  int64_t timestamp_us = 0;        // Unix microseconds (UTC) when has_timestamp
  std::string_view version;        // RFC 5424 only
  std::string_view hostname;       // empty: absent or nil
  std::string_view appname;        // RFC 5424 APP-NAME or the RFC 3164 tag's program
  std::string_view procid;         // RFC 5424 PROCID or the RFC 3164 `[pid]`
  std::string_view msgid;          // RFC 5424 only
  std::string_view structured_data;  // raw, validated SD (`[id k="v"]...`); empty if nil
  std::string_view message;        // MSG, BOM stripped, whitespace trimmed (as Beats does)

  int facility() const { return priority >> 3; }
  int severity() const { return priority & 7; }
};

}  // namespace sluice::syslog
