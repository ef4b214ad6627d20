#pragma once
// Writes a parsed syslog message as one ECS JSON object (PROTOCOLS.md §5.7),
// appending directly to the batch arena: no intermediate document, no
// per-message allocation once the thread's scratch buffer has grown.

#include <cstdint>
#include <string>
#include <string_view>

#include "ingest/syslog/syslog_message.h"

namespace sluice::syslog {

struct EcsFrame {
  std::string_view raw;        // the frame as received (trailer removed): event.original
  std::string_view source_ip;  // the sender's address, without port
  int64_t received_us = 0;     // @timestamp when the message has none
  bool truncated = false;      // cut at max_message_bytes: tag `_syslogtruncated`
};

// "local0", "kern", ... and "Emergency" ... "Debug".
std::string_view FacilityName(int code);
std::string_view SeverityName(int code);

// Appends `{"@timestamp":...}` for `m` to `out`. `keep_original` adds
// event.original. A kUnparsed message gets `tags: ["_syslogparsefailure"]`.
void AppendEcsEvent(const SyslogMessage& m, const EcsFrame& frame, bool keep_original, std::string* out);

// "2026-11-21T05:30:59.285Z", or with 6 fractional digits when the time has
// sub-millisecond precision.
void AppendTimestampUs(int64_t us, std::string* out);

}  // namespace sluice::syslog
