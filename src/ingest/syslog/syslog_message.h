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

// Where ScanStructuredData found the elements and parameters of the SD, as
// offsets into it, so that the ECS writer does not walk it (and scan its
// values) a second time. The arrays are left uninitialised: only the first
// `elements` / params entries are meaningful.
struct SdIndex {
  static constexpr int kMaxElements = 8, kMaxParams = 16;
  struct Element {
    uint16_t id_off;
    uint8_t id_len;  // SD-IDs are at most 32 bytes
    uint8_t params;  // how many of the params that follow are this element's
  };
  struct Param {
    uint16_t name_off;
    uint8_t name_len;  // PARAM-NAMEs are at most 32 bytes
    bool plain;        // the raw value holds no escape nor anything JSON escapes
    uint16_t value_off;
    uint16_t value_len;
  };
  int elements = -1;  // -1: no index (more than fits, an SD over 64 KiB, or none): walk the SD
  int params = 0;
  bool names_plain = false;  // no SD-ID nor PARAM-NAME holds a '\\' (nothing to escape)
  Element element[kMaxElements];
  Param param[kMaxParams];
};

// The parsed fields; reset with `header = SyslogHeader()` (cheaper than
// resetting the whole message: the SD index's arrays need no clearing).
struct SyslogHeader {
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

struct SyslogMessage : SyslogHeader {
  SdIndex sd_index;  // of structured_data, when the RFC 5424 parser made one

  // As a new message.
  void Reset() {
    static_cast<SyslogHeader&>(*this) = SyslogHeader();
    sd_index.elements = -1;
  }
};

}  // namespace sluice::syslog
