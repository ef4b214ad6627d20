// Parser and ECS writer tests, built from the bytes real senders put on the
// wire (shared/samples/syslog-wire.md) and from the RFC 5424 examples.

#include <cstdio>
#include <random>

#include <gtest/gtest.h>

#include "common/timeutil.h"
#include "ecs_test_util.h"
#include "ingest/syslog/ecs_writer.h"
#include "ingest/syslog/rfc5424.h"
#include "ingest/syslog/syslog_parser.h"

namespace sluice::syslog {
namespace {

using testing::Field;
using testing::ValidJson;

int64_t Us(const char* rfc3339) {
  int64_t us = 0;
  EXPECT_TRUE(ParseRfc3339Us(rfc3339, &us)) << rfc3339;
  return us;
}

const int64_t kNov21 = Us("2026-11-21T05:31:30Z");

struct Out {
  bool parsed;
  SyslogMessage m;
  std::string json;
};

Out Parse(std::string_view frame, int64_t now_us = kNov21, absl::TimeZone tz = absl::UTCTimeZone(),
        bool keep_original = false, bool truncated = false) {
  Rfc3164Clock clock(tz);
  clock.SetNow(now_us);
  Out o;
  o.parsed = ParseSyslog(frame, clock, &o.m);
  EcsFrame f;
  f.raw = StripTrailer(frame);
  f.source_ip = "192.0.2.7";
  f.received_us = now_us;
  f.truncated = truncated;
  AppendEcsEvent(o.m, f, keep_original, &o.json);
  EXPECT_TRUE(ValidJson(o.json)) << o.json;
  return o;
}

TEST(SyslogPri, DecodesFacilityAndSeverity) {
  int pri = -1;
  EXPECT_EQ(ParsePri("<134>x", &pri), 5u);
  EXPECT_EQ(pri, 134);
  EXPECT_EQ(ParsePri("<0>x", &pri), 3u);
  EXPECT_EQ(pri, 0);
  EXPECT_EQ(ParsePri("<191>", &pri), 5u);
  EXPECT_EQ(ParsePri("<192>x", &pri), 0u);
  EXPECT_EQ(ParsePri("<>x", &pri), 0u);
  EXPECT_EQ(ParsePri("<1234>x", &pri), 0u);
  EXPECT_EQ(ParsePri("134>x", &pri), 0u);
  EXPECT_EQ(ParsePri("<13", &pri), 0u);

  Out o = Parse("<134>Nov 21 05:30:59 vm syslog-send: body");
  EXPECT_EQ(Field(o.json, "log.syslog.priority"), "134");
  EXPECT_EQ(Field(o.json, "log.syslog.facility.code"), "16");
  EXPECT_EQ(Field(o.json, "log.syslog.facility.name"), "local0");
  EXPECT_EQ(Field(o.json, "log.syslog.severity.code"), "6");
  EXPECT_EQ(Field(o.json, "log.syslog.severity.name"), "Informational");
  EXPECT_EQ(Field(Parse("<0>Nov 21 05:30:59 vm k: x").json, "log.syslog.severity.name"), "Emergency");
  EXPECT_EQ(Field(Parse("<0>Nov 21 05:30:59 vm k: x").json, "log.syslog.facility.name"), "kern");
  EXPECT_EQ(Field(Parse("<191>Nov 21 05:30:59 vm k: x").json, "log.syslog.facility.name"), "local7");
  EXPECT_EQ(Field(Parse("<191>Nov 21 05:30:59 vm k: x").json, "log.syslog.severity.name"), "Debug");
  EXPECT_EQ(Field(Parse("<86>Nov 21 05:30:59 vm k: x").json, "log.syslog.facility.name"), "authpriv");
}

// --- RFC 5424 ---------------------------------------------------------------

TEST(SyslogRfc5424, LoggerUdp) {
  Out o = Parse("<134>1 2026-11-21T05:30:59.285610+00:00 vm syslog-send - - [timeQuality tzKnown=\"1\" isSynced=\"0\"] body");
  ASSERT_TRUE(o.parsed);
  EXPECT_EQ(o.m.format, SyslogFormat::kRfc5424);
  EXPECT_EQ(Field(o.json, "@timestamp"), "2026-11-21T05:30:59.285610Z");
  EXPECT_EQ(Field(o.json, "message"), "body");
  EXPECT_EQ(Field(o.json, "log.syslog.version"), "1");
  EXPECT_EQ(Field(o.json, "log.syslog.hostname"), "vm");
  EXPECT_EQ(Field(o.json, "host.hostname"), "vm");
  EXPECT_EQ(Field(o.json, "log.syslog.appname"), "syslog-send");
  EXPECT_EQ(Field(o.json, "process.name"), "syslog-send");
  EXPECT_EQ(Field(o.json, "log.syslog.procid"), "<missing>");
  EXPECT_EQ(Field(o.json, "log.syslog.msgid"), "<missing>");
  EXPECT_EQ(Field(o.json, "process.pid"), "<missing>");
  EXPECT_EQ(Field(o.json, "log.syslog.structured_data.timeQuality.tzKnown"), "1");
  EXPECT_EQ(Field(o.json, "log.syslog.structured_data.timeQuality.isSynced"), "0");
  EXPECT_EQ(Field(o.json, "source.ip"), "192.0.2.7");
  EXPECT_EQ(Field(o.json, "tags"), "<missing>");
  EXPECT_EQ(Field(o.json, "event.original"), "<missing>");
}

TEST(SyslogRfc5424, RsyslogProtocol23WithTrailingLf) {
  Out o = Parse("<134>1 2026-11-21T05:31:00.438655+00:00 vm syslog-send - - - body\n");
  ASSERT_TRUE(o.parsed);
  EXPECT_EQ(Field(o.json, "message"), "body");
  EXPECT_EQ(Field(o.json, "@timestamp"), "2026-11-21T05:31:00.438655Z");
  EXPECT_EQ(Field(o.json, "log.syslog.structured_data"), "<missing>");
}

TEST(SyslogRfc5424, RfcExampleWithBomAndAllFields) {
  Out o = Parse(
      "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 8710 ID47 [exampleSDID@32473 iut=\"3\" "
      "eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"] \xEF\xBB\xBF"
      "An application event log entry...");
  ASSERT_TRUE(o.parsed);
  EXPECT_EQ(Field(o.json, "@timestamp"), "2003-10-11T22:14:15.003Z");
  EXPECT_EQ(Field(o.json, "message"), "An application event log entry...");
  EXPECT_EQ(Field(o.json, "log.syslog.facility.name"), "local4");
  EXPECT_EQ(Field(o.json, "log.syslog.severity.name"), "Notice");
  EXPECT_EQ(Field(o.json, "log.syslog.hostname"), "mymachine.example.com");
  EXPECT_EQ(Field(o.json, "log.syslog.appname"), "evntslog");
  EXPECT_EQ(Field(o.json, "log.syslog.procid"), "8710");
  EXPECT_EQ(Field(o.json, "process.pid"), "8710");
  EXPECT_EQ(Field(o.json, "log.syslog.msgid"), "ID47");
  EXPECT_EQ(Field(o.json, "log.syslog.structured_data.exampleSDID@32473.eventSource"), "Application");
  EXPECT_EQ(Field(o.json, "log.syslog.structured_data.exampleSDID@32473.iut"), "3");
  EXPECT_EQ(Field(o.json, "log.syslog.structured_data.examplePriority@32473.class"), "high");
}

TEST(SyslogRfc5424, StructuredDataEscapes) {
  Out o = Parse(R"(<14>1 2026-11-21T05:30:59Z h a p m [ex@1 q="say \"hi\"" b="a\\b" c="x\]y" lit="C:\dir" e=""] msg)");
  ASSERT_TRUE(o.parsed);
  EXPECT_EQ(Field(o.json, "log.syslog.structured_data.ex@1.q"), "say \"hi\"");
  EXPECT_EQ(Field(o.json, "log.syslog.structured_data.ex@1.b"), "a\\b");
  EXPECT_EQ(Field(o.json, "log.syslog.structured_data.ex@1.c"), "x]y");
  EXPECT_EQ(Field(o.json, "log.syslog.structured_data.ex@1.lit"), "C:\\dir");  // backslash kept
  EXPECT_EQ(Field(o.json, "log.syslog.structured_data.ex@1.e"), "");
  EXPECT_EQ(Field(o.json, "message"), "msg");
  EXPECT_EQ(Field(o.json, "process.pid"), "<missing>");  // PROCID "p" is not a number
  EXPECT_EQ(Field(o.json, "log.syslog.procid"), "p");
}

TEST(SyslogRfc5424, DuplicateSdIdsAndParamsKeepFirst) {
  Out o = Parse(R"(<14>1 - h a - - [a x="1" x="2"][b y="3"][a x="9"] m)");
  ASSERT_TRUE(o.parsed);
  EXPECT_EQ(Field(o.json, "log.syslog.structured_data.a.x"), "1");
  EXPECT_EQ(Field(o.json, "log.syslog.structured_data.b.y"), "3");
  EXPECT_EQ(Field(o.json, "log.syslog.structured_data"), R"({"a":{"x":"1"},"b":{"y":"3"}})");
}

TEST(SyslogRfc5424, NilValuesUseReceiveTime) {
  Out o = Parse("<34>1 - - - - - -");
  ASSERT_TRUE(o.parsed);
  EXPECT_EQ(o.m.format, SyslogFormat::kRfc5424);
  EXPECT_EQ(Field(o.json, "@timestamp"), "2026-11-21T05:31:30.000Z");
  EXPECT_EQ(Field(o.json, "message"), "");
  EXPECT_EQ(Field(o.json, "log.syslog.hostname"), "<missing>");
  EXPECT_EQ(Field(o.json, "host.hostname"), "<missing>");
  EXPECT_EQ(Field(o.json, "process"), "<missing>");
  EXPECT_EQ(Field(o.json, "log.syslog.facility.name"), "auth");
  EXPECT_EQ(Field(o.json, "log.syslog.severity.name"), "Critical");
}

TEST(SyslogRfc5424, FractionsAndOffsets) {
  EXPECT_EQ(Field(Parse("<14>1 2026-01-01T01:00:00+01:00 h a - - - m").json, "@timestamp"), "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(Field(Parse("<14>1 2026-01-01T00:00:00.5-05:30 h a - - - m").json, "@timestamp"),
            "2026-01-01T05:30:00.500Z");
  EXPECT_EQ(Field(Parse("<14>1 2026-01-01T00:00:00.000001Z h a - - - m").json, "@timestamp"),
            "2026-01-01T00:00:00.000001Z");
  EXPECT_EQ(Field(Parse("<14>1 1985-04-12T23:20:50.52Z h a - - - m").json, "@timestamp"), "1985-04-12T23:20:50.520Z");
}

TEST(SyslogRfc5424, ToleratesSeveralSpacesBetweenFields) {
  Out o = Parse("<14>1  2026-01-01T00:00:00Z   h  app  42  ID  -  text");
  ASSERT_TRUE(o.parsed);
  EXPECT_EQ(o.m.format, SyslogFormat::kRfc5424);
  EXPECT_EQ(Field(o.json, "log.syslog.hostname"), "h");
  EXPECT_EQ(Field(o.json, "process.pid"), "42");
  EXPECT_EQ(Field(o.json, "message"), "text");  // trimmed, as Beats does
}

TEST(SyslogRfc5424, MalformedFallsBackTo3164Text) {
  // Bad SD: not RFC 5424. The PRI is valid, so it is kept as an RFC 3164
  // headerless message, not a parse failure.
  Out o = Parse("<14>1 2026-01-01T00:00:00Z h a - - [broken text");
  EXPECT_TRUE(o.parsed);
  EXPECT_EQ(o.m.format, SyslogFormat::kRfc3164);
  EXPECT_EQ(Field(o.json, "message"), "1 2026-01-01T00:00:00Z h a - - [broken text");
  EXPECT_EQ(ScanStructuredData("[a b=\"c]"), 0u);
  EXPECT_EQ(ScanStructuredData("[a b=\"c\"]x"), 9u);
  EXPECT_EQ(ScanStructuredData("[ b=\"c\"]"), 0u);
}

// --- RFC 3164 ---------------------------------------------------------------

TEST(SyslogRfc3164, LoggerAndRsyslogTraditional) {
  Out o = Parse("<134>Nov 21 05:30:59 vm syslog-send: body");
  ASSERT_TRUE(o.parsed);
  EXPECT_EQ(o.m.format, SyslogFormat::kRfc3164);
  EXPECT_EQ(Field(o.json, "@timestamp"), "2026-11-21T05:30:59.000Z");
  EXPECT_EQ(Field(o.json, "message"), "body");
  EXPECT_EQ(Field(o.json, "log.syslog.hostname"), "vm");
  EXPECT_EQ(Field(o.json, "host.hostname"), "vm");
  EXPECT_EQ(Field(o.json, "log.syslog.appname"), "syslog-send");
  EXPECT_EQ(Field(o.json, "process.name"), "syslog-send");
  EXPECT_EQ(Field(o.json, "log.syslog.version"), "<missing>");
  EXPECT_EQ(Field(o.json, "log.syslog.msgid"), "<missing>");

  Out lf = Parse("<134>Nov 21 05:31:12 vm syslog-send: body\n");
  EXPECT_EQ(Field(lf.json, "message"), "body");
  EXPECT_EQ(Field(lf.json, "@timestamp"), "2026-11-21T05:31:12.000Z");
}

TEST(SyslogRfc3164, SpacePaddedDay) {
  Out o = Parse("<134>Nov  1 05:30:59 vm app: x");
  EXPECT_EQ(Field(o.json, "@timestamp"), "2026-11-01T05:30:59.000Z");
  EXPECT_EQ(Field(o.json, "log.syslog.hostname"), "vm");
  EXPECT_EQ(Field(Parse("<134>Aug  7 01:02:03 vm app: x").json, "@timestamp"), "2026-08-07T01:02:03.000Z");
  EXPECT_EQ(Field(Parse("<134>Aug 7 01:02:03 vm app: x").json, "@timestamp"), "2026-08-07T01:02:03.000Z");
}

TEST(SyslogRfc3164, YearInferredAcrossNewYear) {
  // December message received on 1 January: last year.
  Out dec = Parse("<134>Dec 31 23:59:58 vm app: late", Us("2027-01-01T00:00:03Z"));
  EXPECT_EQ(Field(dec.json, "@timestamp"), "2026-12-31T23:59:58.000Z");
  // January message received on 31 December (sender's clock ahead): next year.
  Out jan = Parse("<134>Jan  1 00:00:01 vm app: early", Us("2026-12-31T23:59:59Z"));
  EXPECT_EQ(Field(jan.json, "@timestamp"), "2027-01-01T00:00:01.000Z");
  // Mid-year: this year.
  EXPECT_EQ(Field(Parse("<134>Jun 15 12:00:00 vm app: x", Us("2026-06-15T12:00:05Z")).json, "@timestamp"),
            "2026-06-15T12:00:00.000Z");
  // Feb 29 in a leap year.
  EXPECT_EQ(Field(Parse("<134>Feb 29 12:00:00 vm app: x", Us("2028-03-01T00:00:00Z")).json, "@timestamp"),
            "2028-02-29T12:00:00.000Z");
}

TEST(SyslogRfc3164, ConfiguredTimeZone) {
  absl::TimeZone berlin;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Berlin", &berlin));
  // Summer: UTC+2, winter: UTC+1.
  EXPECT_EQ(Field(Parse("<134>Jul  1 12:00:00 vm app: x", Us("2026-07-01T10:00:00Z"), berlin).json, "@timestamp"),
            "2026-07-01T10:00:00.000Z");
  EXPECT_EQ(Field(Parse("<134>Nov 21 12:00:00 vm app: x", kNov21, berlin).json, "@timestamp"),
            "2026-11-21T11:00:00.000Z");
  // New Year in Berlin: 00:30 local on 1 January is 23:30 UTC on 31 December.
  EXPECT_EQ(Field(Parse("<134>Dec 31 23:59:00 vm app: x", Us("2026-12-31T23:30:00Z"), berlin).json, "@timestamp"),
            "2026-12-31T22:59:00.000Z");
}

TEST(SyslogRfc3164, TagWithPid) {
  Out o = Parse("<13>Oct 11 22:14:15 host su[123]: 'su root' failed for lonvick on /dev/pts/8");
  EXPECT_EQ(Field(o.json, "log.syslog.hostname"), "host");
  EXPECT_EQ(Field(o.json, "log.syslog.appname"), "su");
  EXPECT_EQ(Field(o.json, "log.syslog.procid"), "123");
  EXPECT_EQ(Field(o.json, "process.name"), "su");
  EXPECT_EQ(Field(o.json, "process.pid"), "123");
  EXPECT_EQ(Field(o.json, "message"), "'su root' failed for lonvick on /dev/pts/8");
  EXPECT_EQ(Field(o.json, "log.syslog.facility.name"), "user");
  EXPECT_EQ(Field(o.json, "log.syslog.severity.name"), "Notice");
  // postgres as rsyslog relays it
  Out pg = Parse("<133>Nov 21 05:31:12 db1 postgres[4242]: [3-1] LOG:  checkpoint starting: time");
  EXPECT_EQ(Field(pg.json, "process.name"), "postgres");
  EXPECT_EQ(Field(pg.json, "process.pid"), "4242");
  EXPECT_EQ(Field(pg.json, "message"), "[3-1] LOG:  checkpoint starting: time");
}

TEST(SyslogRfc3164, MissingHostname) {
  Out o = Parse("<13>Oct 11 22:14:15 su[123]: text here");
  EXPECT_EQ(Field(o.json, "log.syslog.hostname"), "<missing>");
  EXPECT_EQ(Field(o.json, "host.hostname"), "<missing>");
  EXPECT_EQ(Field(o.json, "process.name"), "su");
  EXPECT_EQ(Field(o.json, "process.pid"), "123");
  EXPECT_EQ(Field(o.json, "message"), "text here");
  Out o2 = Parse("<13>Oct 11 22:14:15 cron: job done");
  EXPECT_EQ(Field(o2.json, "log.syslog.hostname"), "<missing>");
  EXPECT_EQ(Field(o2.json, "process.name"), "cron");
  EXPECT_EQ(Field(o2.json, "message"), "job done");
}

TEST(SyslogRfc3164, NoTag) {
  Out o = Parse("<134>Nov 21 05:31:12 switch1 link up on port 7");
  EXPECT_EQ(Field(o.json, "log.syslog.hostname"), "switch1");
  EXPECT_EQ(Field(o.json, "process"), "<missing>");
  EXPECT_EQ(Field(o.json, "message"), "link up on port 7");
}

TEST(SyslogRfc3164, Rfc3339TimestampFromRsyslogForwardFormat) {
  Out o = Parse("<134>2026-11-21T05:31:12.123456+01:00 vm syslog-send[77]: body");
  ASSERT_TRUE(o.parsed);
  EXPECT_EQ(o.m.format, SyslogFormat::kRfc3164);
  EXPECT_EQ(Field(o.json, "@timestamp"), "2026-11-21T04:31:12.123456Z");
  EXPECT_EQ(Field(o.json, "log.syslog.hostname"), "vm");
  EXPECT_EQ(Field(o.json, "process.name"), "syslog-send");
  EXPECT_EQ(Field(o.json, "process.pid"), "77");
  EXPECT_EQ(Field(o.json, "message"), "body");
}

TEST(SyslogRfc3164, HeaderlessKeepsText) {
  Out o = Parse("<13>just some text");
  EXPECT_TRUE(o.parsed);
  EXPECT_EQ(Field(o.json, "message"), "just some text");
  EXPECT_EQ(Field(o.json, "@timestamp"), "2026-11-21T05:31:30.000Z");
  EXPECT_EQ(Field(o.json, "tags"), "<missing>");
}

// --- Transport leftovers, failures, options ---------------------------------

TEST(SyslogParse, OctetCountInsideDatagram) {
  std::string msg = "<134>Nov 21 05:30:59 vm syslog-send: body";
  Out o = Parse(std::to_string(msg.size()) + " " + msg);
  EXPECT_EQ(Field(o.json, "message"), "body");
  EXPECT_EQ(Field(o.json, "log.syslog.hostname"), "vm");
  Out o5 = Parse("77 <134>1 2026-11-21T05:30:59.285610+00:00 vm syslog-send - - - body");
  EXPECT_EQ(o5.m.format, SyslogFormat::kRfc5424);
}

TEST(SyslogParse, CrLfAndNulTrailers) {
  EXPECT_EQ(Field(Parse("<134>Nov 21 05:30:59 vm app: body\r\n").json, "message"), "body");
  EXPECT_EQ(Field(Parse(std::string("<134>Nov 21 05:30:59 vm app: body\0", 35)).json, "message"), "body");
}

TEST(SyslogParse, FailureKeepsRawTextWithPri13AndTag) {
  for (std::string_view raw : {"hello world", "<999>too big", "<12 no close", "", "   "}) {
    Out o = Parse(raw);
    EXPECT_FALSE(o.parsed) << raw;
    EXPECT_EQ(o.m.format, SyslogFormat::kUnparsed);
    EXPECT_EQ(Field(o.json, "message"), std::string(raw) == "   " ? "" : std::string(raw));
    EXPECT_EQ(Field(o.json, "tags"), "[\"_syslogparsefailure\"]");
    EXPECT_EQ(Field(o.json, "log.syslog.priority"), "13");
    EXPECT_EQ(Field(o.json, "log.syslog.facility.name"), "user");
    EXPECT_EQ(Field(o.json, "log.syslog.severity.name"), "Notice");
    EXPECT_EQ(Field(o.json, "@timestamp"), "2026-11-21T05:31:30.000Z");
  }
}

TEST(SyslogParse, TruncatedAndOriginal) {
  Out o = Parse("<134>Nov 21 05:30:59 vm app: bo", kNov21, absl::UTCTimeZone(), /*keep_original=*/true,
              /*truncated=*/true);
  EXPECT_EQ(Field(o.json, "tags"), "[\"_syslogtruncated\"]");
  EXPECT_EQ(Field(o.json, "event.original"), "<134>Nov 21 05:30:59 vm app: bo");
  Out f = Parse("garbage", kNov21, absl::UTCTimeZone(), true, true);
  EXPECT_EQ(Field(f.json, "tags"), "[\"_syslogparsefailure\",\"_syslogtruncated\"]");
  EXPECT_EQ(Field(f.json, "event.original"), "garbage");
}

TEST(SyslogParse, OutputIsValidJsonForHostileBytes) {
  std::string nasty = "<14>1 - h\"x a\\ - - [i@1 k=\"\xff\xfe\\\"\"] \x01\x02\xc3\x28 \"quoted\" \\ \t end";
  Out o = Parse(nasty, kNov21, absl::UTCTimeZone(), true);
  EXPECT_EQ(Field(o.json, "log.syslog.hostname"), "h\"x");
  EXPECT_NE(Field(o.json, "event.original"), "<missing>");
  // An embedded NUL: the length from the array (31 bytes), not counted by hand
  // (35 read past the literal: AddressSanitizer, global-buffer-overflow).
  static const char kNul[] = "<13>Nov 21 05:30:59 h\0st app: \xff";
  Out o2 = Parse(std::string(kNul, sizeof kNul - 1), kNov21, absl::UTCTimeZone(), true);
  (void)o2;
}

TEST(SyslogEcs, TimestampFormatting) {
  std::string s;
  AppendTimestampUs(0, &s);
  EXPECT_EQ(s, "1970-01-01T00:00:00.000Z");
  s.clear();
  AppendTimestampUs(-1, &s);
  EXPECT_EQ(s, "1969-12-31T23:59:59.999999Z");
  s.clear();
  AppendTimestampUs(Us("2026-11-21T05:30:59.285Z"), &s);
  EXPECT_EQ(s, "2026-11-21T05:30:59.285Z");
}

// AppendTimestampUs keeps the second it last wrote per thread and derives the
// fraction from it: on runs of times within, across and far from that second
// (and before 1970) it must write what a plain formatting of the time writes.
TEST(SyslogEcs, TimestampFormattingMatchesPlainFormatting) {
  auto plain = [](int64_t us) {
    const int64_t secs = us >= 0 ? us / 1'000'000 : -((-us + 999'999) / 1'000'000);
    const int64_t frac = us - secs * 1'000'000;
    const int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    const int64_t rem = secs - days * 86400;
    int y;
    unsigned m, d;
    CivilFromDays(days, &y, &m, &d);
    char buf[64];
    int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.", y, m, d, static_cast<int>(rem / 3600),
                          static_cast<int>(rem / 60 % 60), static_cast<int>(rem % 60));
    if (frac % 1000 == 0) n += std::snprintf(buf + n, sizeof buf - n, "%03dZ", static_cast<int>(frac / 1000));
    else n += std::snprintf(buf + n, sizeof buf - n, "%06dZ", static_cast<int>(frac));
    return std::string(buf, n);
  };
  std::mt19937_64 next(20261121);
  int64_t us = Us("2026-11-21T05:30:59.285Z");
  for (int i = 0; i < 300000; ++i) {
    switch (next() % 6) {
      case 0: us += static_cast<int64_t>(next() % 1000); break;                    // same second, mostly
      case 1: us += static_cast<int64_t>(next() % 3'000'000) - 1'000'000; break;  // neighbouring seconds
      case 2: us = static_cast<int64_t>(next() % 310'000'000'000'000'000ull) - 60'000'000'000'000'000ll; break;  // years 69-9892
      case 3: us = (us / 1'000'000) * 1'000'000 + static_cast<int64_t>(next() % 1000) * 1000; break;  // whole ms
      case 4: us = static_cast<int64_t>(next() % 4'000'000) - 2'000'000; break;  // around 1970
      default: us += 1; break;
    }
    std::string s;
    AppendTimestampUs(us, &s);
    ASSERT_EQ(s, plain(us)) << us;
  }
}

}  // namespace
}  // namespace sluice::syslog

namespace sluice::syslog {
namespace {
TEST(SyslogEcs, FastEscapingRoundTripsEverySpecialByteAtEveryPosition) {
  for (std::string special : {"\"", "\\", "\x01", "\t", "\xc3\xa9", "\xff"}) {
    // Past 64 bytes: the scan takes 32 bytes per step, then 8, then 1.
    for (size_t pos = 0; pos < 70; ++pos) {
      std::string msg = std::string(pos, 'a') + special + std::string(69 - pos, 'b');
      Out o = Parse("<13>Nov 21 05:30:59 vm app: " + msg);
      std::string want = special == "\xff" ? std::string(pos, 'a') + "\xEF\xBF\xBD" + std::string(69 - pos, 'b') : msg;
      if (special == "\t" && pos == 0) want = want.substr(1);  // leading and trailing whitespace is trimmed
      if (special == "\t" && pos == 69) want.pop_back();
      EXPECT_EQ(testing::Field(o.json, "message"), want) << pos;
    }
  }
}
}  // namespace
}  // namespace sluice::syslog

namespace sluice::syslog {
namespace {
// Every field made of the bytes that escape longest where RFC 5424 allows
// them (\u0001 in values and MSG, \" and \\ in header fields and SD names):
// the writer's buffer is sized for the worst case (ASan checks the bound in
// CI), and every value comes back as it was.
TEST(SyslogEcs, WorstCaseEscapingInEveryField) {
  const std::string c(40, '\x01'), q(32, '"'), b(32, '\\');
  const std::string sd_value = std::string(30, '\x02') + "\\\"" + std::string(30, '\x03');
  const std::string frame = "<165>1 2026-11-21T05:30:59.285Z " + q + " " + q + " " + q + " " + q + " [" + b + " " + b +
                            "=\"" + sd_value + "\"][x@1 k=\"" + c + "\"] " + c + c + c;
  Out o = Parse(frame, kNov21, absl::UTCTimeZone(), /*keep_original=*/true, /*truncated=*/true);
  ASSERT_EQ(o.m.format, SyslogFormat::kRfc5424);
  EXPECT_EQ(Field(o.json, "log.syslog.hostname"), q);
  EXPECT_EQ(Field(o.json, "host.hostname"), q);
  EXPECT_EQ(Field(o.json, "log.syslog.appname"), q);
  EXPECT_EQ(Field(o.json, "process.name"), q);
  EXPECT_EQ(Field(o.json, "log.syslog.procid"), q);
  EXPECT_EQ(Field(o.json, "log.syslog.msgid"), q);
  EXPECT_EQ(Field(o.json, "message"), c + c + c);
  EXPECT_EQ(Field(o.json, "event.original"), frame);
  EXPECT_EQ(Field(o.json, "log.syslog.facility.name"), "local4");
  EXPECT_EQ(Field(o.json, "log.syslog.severity.name"), "Notice");
  EXPECT_EQ(Field(o.json, "@timestamp"), "2026-11-21T05:30:59.285Z");
  EXPECT_EQ(Field(o.json, "log.syslog.structured_data." + b + "." + b),
            std::string(30, '\x02') + "\"" + std::string(30, '\x03'));
  EXPECT_EQ(Field(o.json, "log.syslog.structured_data.x@1.k"), c);
}
}  // namespace
}  // namespace sluice::syslog
