#include "pipeline/event_parser.h"

#include <gtest/gtest.h>

#include "common/json_util.h"
#include "common/timeutil.h"

namespace sluice {
namespace {

std::string Doc(const Batch& b, const Event& e) {
  return std::string(b.DocHead(e)) + std::string(b.DocTail(e));
}

TEST(EventParserTest, CutsMetadataAndReadsIt) {
  Batch b;
  b.Append(R"({"@timestamp":"2026-11-21T05:30:59.285Z","@metadata":{"beat":"filebeat","type":"_doc","_id":"abc\"1","pipeline":"P1","op_type":"create","index":"idx"},"message":"hi"})");
  b.Append(R"({"@metadata":{"beat":"filebeat"},"message":"first"})");
  b.Append(R"({"message":"last", "@metadata" : {"a":[1,{"b":"}"}]} })");
  b.Append(R"({"@metadata":{}})");
  b.Append(R"({"message":"no meta"})");
  b.Append(R"({"a":1, "@metadata" : "not an object" , "b":2})");
  b.Append(R"({"@metadata" : {"_id":"z"}   , "b":2})");
  EventParser p({});
  p.ParseBatch(&b);
  const auto& ev = b.events();
  for (const auto& e : ev) EXPECT_FALSE(e.flags & kEventInvalid);
  EXPECT_EQ(Doc(b, ev[0]), R"({"@timestamp":"2026-11-21T05:30:59.285Z","message":"hi"})");
  EXPECT_EQ(b.View(ev[0].meta_id), "abc\\\"1");
  EXPECT_EQ(b.View(ev[0].meta_pipeline), "P1");
  EXPECT_EQ(b.View(ev[0].meta_op_type), "create");
  EXPECT_EQ(b.View(ev[0].meta_index), "idx");
  EXPECT_EQ(ev[0].timestamp_ms, 1795239059285);
  EXPECT_TRUE(ev[0].flags & kEventHasTimestamp);
  EXPECT_EQ(Doc(b, ev[1]), R"({"message":"first"})");
  EXPECT_EQ(Doc(b, ev[2]), R"({"message":"last" })");
  EXPECT_EQ(Doc(b, ev[3]), R"({})");
  EXPECT_EQ(Doc(b, ev[4]), R"({"message":"no meta"})");
  EXPECT_EQ(Doc(b, ev[5]), R"({"a":1 , "b":2})");
  EXPECT_EQ(Doc(b, ev[6]), R"({ "b":2})");
  EXPECT_EQ(b.View(ev[6].meta_id), "z");
  EXPECT_EQ(b.DocLength(ev[0]), Doc(b, ev[0]).size());
}

TEST(EventParserTest, ExtractsNestedAndDottedFields) {
  Batch b;
  b.Append(R"({"event":{"dataset":"nginx.access","n":42},"log":{"level":"WARN"},"ok":true})");
  b.Append(R"({"event.dataset":"flat","log.level":null,"ok":false,"event":{"n":[1,2]}})");
  b.Append(R"({"other":1})");
  EventParser p({"event.dataset", "log.level", "event.n", "ok"});
  p.ParseBatch(&b);
  ASSERT_EQ(b.field_count(), 4u);
  EXPECT_EQ(b.field(0, 0).kind, FieldKind::kString);
  EXPECT_EQ(b.View(b.field(0, 0).span), "nginx.access");
  EXPECT_EQ(b.View(b.field(0, 1).span), "WARN");
  EXPECT_EQ(b.field(0, 2).kind, FieldKind::kNumber);
  EXPECT_EQ(b.View(b.field(0, 2).span), "42");
  EXPECT_EQ(b.field(0, 3).kind, FieldKind::kTrue);
  EXPECT_EQ(b.View(b.field(1, 0).span), "flat");
  EXPECT_EQ(b.field(1, 1).kind, FieldKind::kNull);
  EXPECT_EQ(b.field(1, 2).kind, FieldKind::kComposite);
  EXPECT_EQ(b.field(1, 3).kind, FieldKind::kFalse);
  for (int f = 0; f < 4; ++f) EXPECT_EQ(b.field(2, f).kind, FieldKind::kMissing);
}

TEST(EventParserTest, InvalidEventsAreFlaggedWithReasons) {
  Batch b;
  b.received_ms = 1234;
  b.Append(R"({"message":"ok"})");
  b.Append(R"(not json)");
  b.Append(R"([1,2,3])");
  b.Append(R"({"a":1} trailing)");
  b.Append(R"({"a":"unterminated)");
  b.Append("");
  EventParser p({});
  p.ParseBatch(&b);
  const auto& ev = b.events();
  EXPECT_FALSE(ev[0].flags & kEventInvalid);
  EXPECT_EQ(ev[0].timestamp_ms, 1234);  // no @timestamp: the receive time
  for (size_t i = 1; i < ev.size(); ++i) {
    EXPECT_TRUE(ev[i].flags & kEventInvalid) << i;
    EXPECT_NE(b.error(ev[i].error).find("invalid JSON"), std::string::npos) << b.error(ev[i].error);
  }
}

TEST(EventParserTest, PrettyPrintedEventsAreMinified) {
  Batch b;
  b.Append("{\n  \"message\": \"a b\",\n  \"@metadata\": {\"_id\": \"x\"}\n}");
  b.Append("{\"message\": \"raw\nnewline\"}");
  EventParser p({"message"});
  p.ParseBatch(&b);
  const auto& ev = b.events();
  ASSERT_FALSE(ev[0].flags & kEventInvalid);
  EXPECT_EQ(Doc(b, ev[0]), R"({"message":"a b"})");
  EXPECT_EQ(b.View(ev[0].meta_id), "x");
  EXPECT_EQ(b.View(b.field(0, 0).span), "a b");
  EXPECT_TRUE(ev[1].flags & kEventInvalid);
}

// What parsing decided for one event, with spans relative to the event, so
// that an event parsed alone and the same event parsed inside a batch compare.
std::string Outcome(const Batch& b, size_t i) {
  const Event& e = b.events()[i];
  auto rel = [&](Span s) { return s.empty() ? std::string("-") : std::to_string(s.off - e.offset) + "+" + std::to_string(s.len); };
  std::string out = (e.flags & kEventInvalid) ? "invalid" : "valid";
  if (e.flags & kEventInvalid) return out;
  out += " doc=" + Doc(b, e) + " ts=" + std::to_string(e.timestamp_ms) +
         ((e.flags & kEventHasTimestamp) ? "(event)" : "(received)") + " id=" + rel(e.meta_id) +
         " pipeline=" + rel(e.meta_pipeline) + " op=" + rel(e.meta_op_type) + " index=" + rel(e.meta_index);
  for (size_t f = 0; f < b.field_count(); ++f) {
    const FieldValue& v = b.field(i, f);
    out += " f" + std::to_string(f) + "=" + std::to_string(static_cast<int>(v.kind)) + ":" +
           (v.kind == FieldKind::kString || v.kind == FieldKind::kNumber ? std::string(b.View(v.span)) : "");
  }
  return out;
}

// Events that are fine alone and events that are not, several of them built
// to look valid once concatenated with their neighbours (one stage 1 for the
// whole batch must never accept what the event alone would not).
const char* const kTrickyEvents[] = {
    R"({"@timestamp":"2026-11-21T05:30:59.285Z","@metadata":{"_id":"i1","index":"x"},"service":{"name":"a"},"m":"ok"})",
    R"(  {"service.name":"b", "@metadata":{"pipeline":"p"}}  )",
    R"({"a":)",
    R"(1})",
    R"({"a":1}")",
    R"("{"b":2})",
    R"({"a":1}{"b":2})",
    R"({"a":1},)",
    R"({"a":1}\)",
    R"({"a":[1,2}})",
    R"(])",
    R"({"a":"x\)",
    R"(")",
    R"(42)",
    R"("just a string")",
    R"([{"a":1}])",
    "",
    "   ",
    "{\"u\":\"\xc3",
    "\xa9\"}",
    "{\"bad\":\"\xff\"}",
    R"({"@timestamp":"not a time","service":{"name":7}})",
    R"({"x":{"y":{"z":[[[{}]]]}},"service":{"name":null}})",
    R"({"a":1,"\u0040metadata":{"_id":"esc"},"\u0040timestamp":"2026-11-21T05:30:59.285Z"})",
    R"({"@meta\u0064ata":{"index":"i"},"@":1,"":2,"\\":3})",
    "{\"ctl\":\"a\tb\"}",
};

// Parses `events` one batch each (the event-by-event path) and all in one
// batch; every event must come out the same.
void ExpectBatchEqualsAlone(const std::vector<std::string>& events, const std::vector<std::string>& fields) {
  EventParser alone_parser(fields), batch_parser(fields);
  Batch all;
  all.received_ms = 777;
  for (const auto& e : events) all.Append(e);
  batch_parser.ParseBatch(&all);
  for (size_t i = 0; i < events.size(); ++i) {
    Batch one;
    one.received_ms = 777;
    one.Append(events[i]);
    alone_parser.ParseBatch(&one);
    auto context = [&] {  // only evaluated when the expectation fails
      std::string c;
      for (const auto& e : events) {
        c += '[';
        c.append(e, 0, 200);
        c += ']';
      }
      return c;
    };
    EXPECT_EQ(Outcome(all, i), Outcome(one, 0)) << "event " << i << " of " << context();
  }
}

TEST(EventParserTest, OneStage1PerBatchDecidesLikeEventByEvent) {
  const std::vector<std::string> fields = {"service.name", "m"};
  const size_t n = sizeof(kTrickyEvents) / sizeof(kTrickyEvents[0]);
  for (size_t a = 0; a < n; ++a) {
    for (size_t b = 0; b < n; ++b) {
      ExpectBatchEqualsAlone({kTrickyEvents[0], kTrickyEvents[a], kTrickyEvents[b], kTrickyEvents[1]}, fields);
    }
  }
  std::vector<std::string> every(kTrickyEvents, kTrickyEvents + n);
  ExpectBatchEqualsAlone(every, fields);
  ExpectBatchEqualsAlone(every, {});
}

// Stage 1 runs over 128 KiB of the batch at a time: events across those
// boundaries, one larger than a window, and invalid events in later windows
// come out as they do alone.
TEST(EventParserTest, BatchesLargerThanTheStage1Window) {
  std::vector<std::string> events;
  for (int i = 0; i < 3000; ++i) {
    std::string e = R"({"@timestamp":"2026-11-21T05:30:59.285Z","@metadata":{"_id":"e)" + std::to_string(i) +
                    R"("},"service":{"name":"s"},"m":")" + std::string(static_cast<size_t>(i % 97) * 3, 'x') + "\"}";
    if (i == 1500) e = R"({"big":")" + std::string(200000, 'b') + "\"}";
    events.push_back(std::move(e));
  }
  ExpectBatchEqualsAlone(events, {"service.name", "m"});
  events[2500] = R"({"m":"unterminated})";
  events[2900] = R"({"a":1}{"b":2})";
  ExpectBatchEqualsAlone(events, {"service.name", "m"});
  EventParser p({});
  Batch b;
  events[2500] = events[2501];
  events[2900] = events[2901];
  for (const auto& e : events) b.Append(e);
  p.ParseBatch(&b);
  EXPECT_EQ(p.batches_at_once(), 1u);
  for (const Event& e : b.events()) EXPECT_FALSE(e.flags & kEventInvalid);
}

// Keys written with escapes are keys all the same, with or without fields
// registered (without, most keys are skipped on their first byte).
TEST(EventParserTest, EscapedMetadataKeys) {
  for (const std::vector<std::string>& fields : {std::vector<std::string>{}, std::vector<std::string>{"a"}}) {
    Batch b;
    b.Append(R"({"a":1,"\u0040metadata":{"_id":"esc"},"\u0040timestamp":"2026-11-21T05:30:59.285Z"})");
    b.Append(R"({"@meta\u0064ata":{"index":"i"},"a":2})");
    EventParser p(fields);
    p.ParseBatch(&b);
    const auto& ev = b.events();
    EXPECT_EQ(Doc(b, ev[0]), R"({"a":1,"\u0040timestamp":"2026-11-21T05:30:59.285Z"})");
    EXPECT_EQ(b.View(ev[0].meta_id), "esc");
    EXPECT_EQ(ev[0].timestamp_ms, 1795239059285);
    EXPECT_EQ(Doc(b, ev[1]), R"({"a":2})");
    EXPECT_EQ(b.View(ev[1].meta_index), "i");
  }
}

TEST(EventParserTest, CleanWindowsTakeOneStage1AndInvalidOnesFallBack) {
  EventParser p({"service.name"});
  Batch clean;
  for (int i = 0; i < 100; ++i) {
    clean.Append(R"({"@timestamp":"2026-11-21T05:30:59.285Z","@metadata":{"beat":"filebeat"},"service":{"name":"s"},"n":)" +
                 std::to_string(i) + "}");
  }
  p.ParseBatch(&clean);
  EXPECT_EQ(p.batches_at_once(), 1u);
  for (size_t i = 0; i < clean.size(); ++i) {
    const Event& e = clean.events()[i];
    EXPECT_FALSE(e.flags & kEventInvalid);
    EXPECT_EQ(Doc(clean, e), R"({"@timestamp":"2026-11-21T05:30:59.285Z","service":{"name":"s"},"n":)" +
                                 std::to_string(i) + "}");
    EXPECT_EQ(clean.View(clean.field(i, 0).span), "s");
  }
  // The 60th event breaks the batch pass after 59 events were walked: those
  // are parsed again, event by event, and come out the same.
  Batch broken;
  for (int i = 0; i < 100; ++i) {
    broken.Append(i == 59 ? std::string(R"({"@metadata":{"_id":"x"},"a":)")
                          : R"({"@metadata":{"_id":"e)" + std::to_string(i) + R"("},"service":{"name":"s"}})");
  }
  p.ParseBatch(&broken);
  EXPECT_EQ(p.batches_at_once(), 1u);
  for (size_t i = 0; i < broken.size(); ++i) {
    const Event& e = broken.events()[i];
    if (i == 59) {
      EXPECT_TRUE(e.flags & kEventInvalid);
      continue;
    }
    EXPECT_FALSE(e.flags & kEventInvalid) << i;
    EXPECT_EQ(Doc(broken, e), R"({"service":{"name":"s"}})") << i;
    EXPECT_EQ(broken.View(e.meta_id), "e" + std::to_string(i));
    EXPECT_EQ(broken.View(broken.field(i, 0).span), "s");
  }
}

// Syslog's own documents arrive with their time set and no @timestamp to
// overwrite it... when they have none, the time they carry stays.
TEST(EventParserTest, TimestampsSetByTheInputStay) {
  Batch b;
  b.received_ms = 5;
  for (int i = 0; i < 3; ++i) {
    uint32_t k = b.Append(R"({"message":"m"})");
    b.events()[k].timestamp_ms = 1000 + i;
    b.events()[k].flags |= kEventHasTimestamp;
  }
  EventParser p({"message"});
  p.ParseBatch(&b);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(b.events()[i].timestamp_ms, 1000 + i);
}

// @timestamp of the same minute as the previous event takes a shortcut; every
// form must give what ParseRfc3339Ms gives, and bad ones none.
TEST(EventParserTest, TimestampsOfOneMinuteAndOthers) {
  const std::vector<std::string> stamps = {
      "2026-11-21T05:30:59.285Z", "2026-11-21T05:30:00.000Z", "2026-11-21T05:30:07.009Z",
      "2026-11-21T05:30:60.500Z",  // leap second, as ParseRfc3339Ms reads it
      "2026-11-21T05:30:61.000Z", "2026-11-21T05:30:5x.285Z", "2026-11-21T05:30:59.2a5Z",
      "2026-11-21T05:31:00.001Z", "2026-11-21T05:30:59.285+01:00", "2026-11-21T05:30:59Z",
      "2026-11-21T05:30:59.285123Z", "1969-12-31T23:59:59.999Z", "1969-12-31T23:59:00.001Z",
      "2026-11-21T05:30:59.285Z", "2026-11-21 05:30:59.285Z", "2026-13-21T05:30:59.285Z",
      "2026-11-21T05:30:59.285z", "2026-11-21T05:30:\\u0035\\u0039.285Z"};
  Batch b;
  for (const auto& ts : stamps) b.Append(R"({"@timestamp":")" + ts + R"(","m":1})");
  b.Append(R"({"@timestamp":12,"m":1})");
  b.received_ms = 42;
  EventParser p({});
  p.ParseBatch(&b);
  for (size_t i = 0; i < stamps.size(); ++i) {
    const Event& e = b.events()[i];
    ASSERT_FALSE(e.flags & kEventInvalid) << stamps[i];
    std::string plain;
    ASSERT_TRUE(UnescapeJsonString(stamps[i], &plain));
    int64_t want = 0;
    if (ParseRfc3339Ms(plain, &want)) {
      EXPECT_TRUE(e.flags & kEventHasTimestamp) << stamps[i];
      EXPECT_EQ(e.timestamp_ms, want) << stamps[i];
    } else {
      EXPECT_FALSE(e.flags & kEventHasTimestamp) << stamps[i];
      EXPECT_EQ(e.timestamp_ms, 42) << stamps[i];
    }
  }
  EXPECT_FALSE(b.events().back().flags & kEventHasTimestamp);
  EXPECT_EQ(b.events().back().timestamp_ms, 42);
}

// A key is unescaped only when its first byte may start a wanted key: an
// invalid escape in any other key is not looked at (as with no field
// registered); in a key that may match, it makes the event invalid.
TEST(EventParserTest, KeysThatCannotMatchAreNotUnescaped) {
  for (const std::vector<std::string>& fields : {std::vector<std::string>{}, std::vector<std::string>{"log.level"}}) {
    Batch b;
    b.Append(R"({"log":{"x\q":1,"level":"W"},"y\q":2})");
    b.Append(R"({"log":{"l\q":1,"level":"W"}})");
    EventParser p(fields);
    p.ParseBatch(&b);
    const auto& ev = b.events();
    EXPECT_FALSE(ev[0].flags & kEventInvalid);
    if (fields.empty()) {
      EXPECT_FALSE(ev[1].flags & kEventInvalid);
      continue;
    }
    EXPECT_EQ(b.View(b.field(0, 0).span), "W");
    EXPECT_TRUE(ev[1].flags & kEventInvalid);
  }
}

// Events in the compact form Beats writes are read without simdjson; each
// thing the scanner leaves to simdjson (white space, an escaped key where it
// reads keys, an escaped @timestamp, a backslash outside a string, brackets
// that do not pair up, a control byte, broken UTF-8, bytes after the object)
// gives what simdjson gives, valid or not, and the rest of the batch is still
// scanned. (tests/pipeline/event_parser_diff_test.cc does the same over many
// generated events.)
// `events` parsed in one batch by `parser` into *a and by simdjson alone into
// *b: the same outcome for each.
void ParseBothWays(EventParser* parser, const std::vector<std::string>& fields, const std::vector<std::string>& events,
                   Batch* a, Batch* b) {
  EventParser simdjson_only(fields);
  simdjson_only.set_scan_events(false);
  for (const auto& e : events) {
    a->Append(e);
    b->Append(e);
  }
  parser->ParseBatch(a);
  simdjson_only.ParseBatch(b);
  EXPECT_EQ(simdjson_only.events_scanned(), 0u);
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(Outcome(*a, i), Outcome(*b, i)) << events[i];
}

TEST(EventParserTest, CompactEventsAreScannedAndTheRestLeftToSimdjson) {
  const std::string beats =
      R"({"@timestamp":"2026-11-21T05:30:59.285Z","@metadata":{"beat":"filebeat","type":"_doc","version":"8.15.0"},)"
      R"("log":{"offset":517,"level":"WARN","file":{"path":"/var/log/a.log"}},"input":{"type":"filestream"},)"
      R"("agent":{"type":"filebeat","version":"8.15.0","name":"h-1"},"ecs":{"version":"8.0.0"},"host":{"name":"h-1"},)"
      R"("service":{"name":"shop-api"},"http":{"response":{"status_code":503}},"event":{"duration_ms":42},)"
      R"("tags":["a",{"b":[1,2]}],"ok":true,"message":"WARN order 1 \"x\" took_ms=42"})";
  const std::vector<std::string> others = {
      R"({"log":{"level":"W"}, "service":{"name":"s"}})",
      R"({"lo\u0067":{"level":"W"}})",
      R"({"log":{"lev\u0065l":"W"}})",
      R"({"@timestamp":"2026-11-21T05:30:\u0035\u0039.285Z","log":{"level":"W"}})",
      R"({"x":[1,\"],"log":{"level":"W"}})",
      R"({"x":[1,{"y":2]},"log":{"level":"W"}})",
      R"({"x":[1,{"y":2}}],"log":{"level":"W"}})",
      "{\"log\":{\"level\":\"W\tX\"}}",
      "{\"log\":{\"level\":\"\xff\"}}",
      "{\"log\":{\"level\":\"\xc3\xa9\"}}",
      R"({"log":{"level":"W"}} )",
      R"({"log":{"level":"W"}}x)",
      R"({"log":{"level":tru}})",
      R"({"log":{"level":01}})",
      R"({"log":{"level":"W"},})",
      R"({"log":{"level":"W"})",
  };
  const std::vector<std::string> fields = {"log.level", "service.name", "http.response.status_code", "tags",
                                           "ok", "message", "log.file.path", "event.duration_ms"};
  for (const std::string& other : others) {
    std::vector<std::string> events = {beats, other, beats, beats};
    EventParser scanner(fields);
    Batch a, b;
    ParseBothWays(&scanner, fields, events, &a, &b);
    EXPECT_GE(scanner.events_scanned(), 3u) << other;
    EXPECT_EQ(b.View(b.field(0, 0).span), "WARN");
    EXPECT_EQ(b.View(b.field(0, 2).span), "503");
    EXPECT_EQ(b.field(0, 3).kind, FieldKind::kComposite);
    EXPECT_EQ(b.View(b.field(0, 5).span), R"(WARN order 1 \"x\" took_ms=42)");
    EXPECT_TRUE(b.field(0, 5).escaped);
    EXPECT_EQ(Doc(b, b.events()[0]).find("@metadata"), std::string::npos);
  }
}

// Events of one shape are read by it; a change the shape cannot take (an
// object where it passed over a scalar on a wanted path, another @metadata,
// another kind of value) is read member by member, with what it finds.
TEST(EventParserTest, EventsOfOneShapeAndTheirChanges) {
  auto beats = [](const std::string& meta, const std::string& log, const std::string& status) {
    return R"({"@timestamp":"2026-11-21T05:30:59.285Z","@metadata":)" + meta + R"(,"log":)" + log +
           R"(,"http":{"response":{"status_code":)" + status + R"(}},"message":"m"})";
  };
  const std::string meta = R"({"beat":"filebeat","type":"_doc"})";
  const std::vector<std::string> events = {
      beats(meta, R"({"level":"WARN"})", "503"),
      beats(meta, R"({"level":"INFO"})", "200"),
      beats(meta, R"("flat")", "200"),
      beats(meta, R"("flat2")", "200"),
      beats(meta, R"({"level":"ERROR"})", "500"),  // an object again after a shape with a string
      beats(R"({"beat":"filebeat","type":"_doc","_id":"x1"})", R"({"level":"INFO"})", "200"),
      beats(R"({"beat":"filebeat","type":"_doc","_id":"x22"})", R"({"level":"INFO"})", "200"),
      beats(meta, R"({"level":"INFO"})", R"("200")"),
      beats(meta, R"({"level":"INFO"})", "2.5e2"),
      beats(R"({"beat":"filebeat","type":"_dOc"})", R"({"level":"INFO"})", "200"),
  };
  const std::vector<std::string> fields = {"log.level", "http.response.status_code", "message"};
  EventParser shapes(fields);
  Batch a, b;
  ParseBothWays(&shapes, fields, events, &a, &b);
  EXPECT_EQ(shapes.events_scanned(), events.size());
  EXPECT_GE(shapes.events_by_shape(), 3u);  // events 1, 3 and 6 at least
  EXPECT_EQ(a.View(a.field(4, 0).span), "ERROR");
  EXPECT_EQ(a.field(2, 0).kind, FieldKind::kMissing);
  EXPECT_EQ(a.View(a.events()[6].meta_id), "x22");
  EXPECT_EQ(a.field(7, 1).kind, FieldKind::kString);
  EXPECT_EQ(a.View(a.field(8, 1).span), "2.5e2");
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(Doc(a, a.events()[i]).find("@metadata"), std::string::npos);
    EXPECT_EQ(a.events()[i].timestamp_ms, 1795239059285);
  }
}

// A batch parsed again (a worker's parser rebuilt for new fields) holds the
// values of the first parse until each event's are cleared (ParseBatch
// clears each row before the scanner stores into it, and the rows of the
// events left to simdjson at once): every value as in a batch parsed once.
// The first events are compact (scanned), then more events with spaces than
// the scanner tries (the rest of the batch goes to simdjson), then compact
// ones again (in that rest).
TEST(EventParserTest, ValuesOfAnEarlierParseAreCleared) {
  std::vector<std::string> events = {
      R"({"a":"x1","b":2,"c":{"d":1}})", R"({"c":"y","x":true})", R"({"b":1})", R"({"a":null,"b":"s"})",
      R"({"a":"x1","b":2,"c":{"d":1}})",
  };
  for (int i = 0; i < 6; ++i) events.push_back(R"({ "a" : "s" , "b" : 3 })");
  for (const char* e : {R"({"b":5})", R"({"a":"z","b":[1]})", R"({"c":1,"b":2,"a":3})", R"({"b":"q"})"}) {
    events.push_back(e);
  }
  Batch again, once;
  for (const std::string& e : events) {
    again.Append(e);
    once.Append(e);
  }
  EventParser first({"a", "b", "c", "c.d", "y"});
  first.ParseBatch(&again);
  EventParser second({"c", "x", "a"});
  second.ParseBatch(&again);
  EventParser(std::vector<std::string>{"c", "x", "a"}).ParseBatch(&once);
  ASSERT_EQ(again.field_count(), 3u);
  size_t stored = 0;
  for (size_t e = 0; e < events.size(); ++e) {
    for (size_t f = 0; f < 3; ++f) {
      const FieldValue& x = again.field(e, f);
      const FieldValue& y = once.field(e, f);
      EXPECT_EQ(x.kind, y.kind) << e << " " << f;
      EXPECT_EQ(x.span.off, y.span.off) << e << " " << f;
      EXPECT_EQ(x.span.len, y.span.len) << e << " " << f;
      EXPECT_EQ(x.escaped, y.escaped) << e << " " << f;
      stored += y.kind != FieldKind::kMissing;
    }
  }
  EXPECT_GT(stored, 10u);
  EXPECT_EQ(once.field(11, 1).kind, FieldKind::kMissing);  // {"b":5}, in simdjson's rest
}

TEST(EventParserTest, SkipJsonMember) {
  std::string s = R"("k" : {"a":"}\"]","b":[{"c":1}]} , "next":1)";
  const char* end = SkipJsonMember(s.data(), s.data() + s.size());
  EXPECT_EQ(std::string(end), R"( , "next":1)");
}

}  // namespace
}  // namespace sluice
