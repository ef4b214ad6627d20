#include "pipeline/event_parser.h"

#include <gtest/gtest.h>

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

TEST(EventParserTest, SkipJsonMember) {
  std::string s = R"("k" : {"a":"}\"]","b":[{"c":1}]} , "next":1)";
  const char* end = SkipJsonMember(s.data(), s.data() + s.size());
  EXPECT_EQ(std::string(end), R"( , "next":1)");
}

}  // namespace
}  // namespace sluice
