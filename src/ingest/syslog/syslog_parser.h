#pragma once
// One syslog frame in, one SyslogMessage out: detects RFC 5424 or RFC 3164 per
// message, after removing what transports leave around it (a trailing LF, CR
// or NUL; an RFC 6587 octet count inside a UDP datagram, as `logger --udp
// --octet-count` sends).

#include <string_view>

#include "ingest/syslog/rfc3164.h"
#include "ingest/syslog/syslog_message.h"

namespace sluice::syslog {

// Parses `<PRI>` at the start of `s`. Returns the length consumed (0 if there
// is no valid PRI: `<` 1-3 digits `>`, value 0-191).
size_t ParsePri(std::string_view s, int* pri);

// Removes the trailer bytes (LF, CR, NUL) from the end of a frame.
std::string_view StripTrailer(std::string_view s);

// Fills `m` from `frame`. Returns false when no parser accepts it: then `m`
// holds the raw text (trailer removed) as message with priority 13 and format
// kUnparsed. Views in `m` point into `frame`.
bool ParseSyslog(std::string_view frame, const Rfc3164Clock& clock, SyslogMessage* m);

}  // namespace sluice::syslog
