#pragma once
// RFC 3164 (BSD syslog) parsing as real senders and relays produce it:
// `Mmm dd hh:mm:ss` (space-padded days, no year, no zone) or an RFC 3339
// timestamp (rsyslog RSYSLOG_ForwardFormat), optional hostname, `tag[pid]:`.

#include <cstdint>
#include <string_view>

#include "absl/time/time.h"
#include "ingest/syslog/syslog_message.h"

namespace sluice::syslog {

// Turns the year-less local time of RFC 3164 into UTC: the zone comes from the
// config, the year is the one that puts the message closest to the time it was
// received (so `Dec 31 23:59:59` received on 1 January lands in the old year,
// and `Jan  1 00:00:01` received on 31 December, from a fast clock, in the new).
class Rfc3164Clock {
 public:
  explicit Rfc3164Clock(absl::TimeZone tz);
  // The receive time; call once per batch (it caches the civil year).
  void SetNow(int64_t now_us);
  // Unix microseconds of the civil time (month 1-12) in the configured zone.
  int64_t ToUnixUs(int month, int day, int hour, int minute, int second, int micros) const;

 private:
  int64_t CivilToUnixSeconds(int64_t year, int month, int day, int hour, int minute, int second) const;

  absl::TimeZone tz_;
  bool utc_;
  int64_t now_us_ = 0;
  int64_t year_ = 1970;
};

// Parses what follows `<PRI>` into `m` (all fields but `priority` and
// `format`). Never fails on text after a valid PRI: without a recognisable
// timestamp the whole text is the message. Returns false only for empty input.
bool ParseRfc3164(std::string_view s, const Rfc3164Clock& clock, SyslogMessage* m);

}  // namespace sluice::syslog
