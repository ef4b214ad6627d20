#include "sinks/elasticsearch/bulk_encoder.h"

#include <gtest/gtest.h>

#include <random>

#include "common/strings.h"

#include "es_test_util.h"

namespace sluice::testing {
namespace {

// Encodes every event of `lines` with the sink options `yaml`.
std::string Encode(const std::string& yaml, const std::vector<std::string>& lines) {
  SinkHarness h;
  EXPECT_TRUE(h.Configure(yaml)) << h.errors.ToString();
  if (!h.cfg) return "";
  BatchPtr b = h.MakeBatch(lines);
  BulkEncoder enc(h.cfg.get());
  std::string body;
  for (size_t i = 0; i < b->size(); ++i) enc.Append(*b, i, &body);
  return body;
}

TEST(BulkEncoderTest, IndexActionAndDocumentVerbatim) {
  std::string body = Encode("index: logs\n", {R"({"@timestamp":"2026-11-21T05:30:59.285Z", "message":"héllo \"x\""})"});
  EXPECT_EQ(body,
            "{\"index\":{\"_index\":\"logs\"}}\n"
            "{\"@timestamp\":\"2026-11-21T05:30:59.285Z\", \"message\":\"héllo \\\"x\\\"\"}\n");
}

TEST(BulkEncoderTest, MetadataHonouredAndStripped) {
  std::string body = Encode(
      "index: logs\n",
      {R"({"@metadata":{"beat":"filebeat","_id":"abc","pipeline":"Nginx-Access"},"message":"a"})",
       R"({"message":"b","@metadata":{"_id":"def","op_type":"index"}})",
       R"({"message":"c","@metadata":{"index":"Other-Index"}})",
       R"({"message":"d","@metadata":{"op_type":"create"}})"});
  EXPECT_EQ(body,
            "{\"create\":{\"_index\":\"logs\",\"_id\":\"abc\",\"pipeline\":\"nginx-access\"}}\n{\"message\":\"a\"}\n"
            "{\"index\":{\"_index\":\"logs\",\"_id\":\"def\"}}\n{\"message\":\"b\"}\n"
            "{\"index\":{\"_index\":\"other-index\"}}\n{\"message\":\"c\"}\n"
            "{\"create\":{\"_index\":\"logs\"}}\n{\"message\":\"d\"}\n");
}

TEST(BulkEncoderTest, AutoDocumentIdsFromFilebeatOriginElseBytes) {
  SinkHarness h;
  ASSERT_TRUE(h.Configure("index: logs\ndocument_id: auto\n")) << h.errors.ToString();
  ASSERT_TRUE(h.cfg->auto_document_id);
  const std::string a = R"({"message":"x","agent":{"id":"ag-1"},"log":{"offset":1200,"file":{"path":"/var/log/a.log"}}})";
  // Same origin, different bytes (a resend after processing changed nothing of the origin).
  const std::string a2 = R"({"agent":{"id":"ag-1"},"log":{"file":{"path":"/var/log/a.log"},"offset":1200},"message":"x"})";
  const std::string b = R"({"message":"x","agent":{"id":"ag-1"},"log":{"offset":1201,"file":{"path":"/var/log/a.log"}}})";
  const std::string plain = R"({"message":"no origin"})";
  BatchPtr batch = h.MakeBatch({a, a2, b, plain, plain, R"({"message":"y","@metadata":{"_id":"given"}})"});
  std::vector<std::string> ids;
  for (size_t i = 0; i < 5; ++i) ids.push_back(DocumentIdFor(*batch, i, *h.cfg));
  for (const auto& id : ids) EXPECT_EQ(id.size(), 32u) << id;
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_NE(ids[0], ids[2]);
  EXPECT_EQ(ids[3], ids[4]);
  EXPECT_NE(ids[3], ids[0]);
  BulkEncoder enc(h.cfg.get());
  std::string body;
  enc.Append(*batch, 3, &body);
  EXPECT_EQ(body, StrCat("{\"create\":{\"_index\":\"logs\",\"_id\":\"", ids[3], "\"}}\n", plain, "\n"));
  body.clear();
  enc.Append(*batch, 5, &body);  // @metadata._id wins
  EXPECT_EQ(body, "{\"create\":{\"_index\":\"logs\",\"_id\":\"given\"}}\n{\"message\":\"y\"}\n");
}

TEST(BulkEncoderTest, DocumentIdsAreStable) {
  // Pinned values: a different id for the same event after an upgrade would
  // index replayed events twice.
  SinkHarness h;
  ASSERT_TRUE(h.Configure("index: logs\ndocument_id: auto\n"));
  BatchPtr b = h.MakeBatch(
      {R"({"agent":{"id":"3b7f0d3c-6c1e-4c0e-9d55-2f8f9e1a7a10"},"log":{"file":{"path":"/var/log/a.log"},"offset":517}})",
       R"({"message":"no origin"})"});
  EXPECT_EQ(DocumentIdFor(*b, 0, *h.cfg), "dfe37baa53d3743906db4dad5ec739a4");
  EXPECT_EQ(DocumentIdFor(*b, 1, *h.cfg), "e8a8e6a7d63492c95d3e5b1de7e768d4");
}

TEST(BulkEncoderTest, DocumentIdDefaultsToAutoWithThePersistedQueueOnly) {
  SinkHarness h;
  ASSERT_TRUE(h.Configure("index: logs\n"));
  EXPECT_FALSE(h.cfg->auto_document_id);
  SinkHarness p;
  p.ctx.persisted_queue = true;
  ASSERT_TRUE(p.Configure("index: logs\n"));
  EXPECT_TRUE(p.cfg->auto_document_id);
  EXPECT_GE(p.fields.Find("log.offset"), 0);
  SinkHarness off;
  off.ctx.persisted_queue = true;
  ASSERT_TRUE(off.Configure("index: logs\ndocument_id: none\n"));
  EXPECT_FALSE(off.cfg->auto_document_id);
}

TEST(BulkEncoderTest, IndexDateMathAndFieldReferences) {
  const std::string yaml = "index: \"logs-%{[event][dataset]}-%{+yyyy.MM.dd}\"\n";
  std::string body = Encode(yaml, {R"({"@timestamp":"2026-11-21T05:30:59.285Z","event":{"dataset":"Nginx.Access"}})",
                                   R"({"@timestamp":"2027-01-01T00:00:00Z","event.dataset":"x"})",
                                   R"({"@timestamp":"2026-02-03T00:00:00Z","message":"no dataset"})"});
  std::vector<std::string> lines;
  for (size_t p = 0; p < body.size();) {
    size_t nl = body.find('\n', p);
    lines.push_back(body.substr(p, nl - p));
    p = nl + 1;
  }
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0], R"({"index":{"_index":"logs-nginx.access-2026.11.21"}})");
  EXPECT_EQ(lines[2], R"({"index":{"_index":"logs-x-2027.01.01"}})");
  // A missing field stays as its reference, like Logstash.
  EXPECT_EQ(lines[4], R"({"index":{"_index":"logs-%{[event][dataset]}-2026.02.03"}})");
}

// Action lines of plain events are reused within a day: the day changing,
// events with @metadata in between, and another encoder on the same thread
// (the same address, even) must each still get their own line.
TEST(BulkEncoderTest, ActionLinesPerDayAndPerEncoder) {
  const std::vector<std::string> events = {
      R"({"@timestamp":"2026-11-21T05:30:59.285Z","a":1})", R"({"@timestamp":"2026-11-21T23:59:59.999Z","a":2})",
      R"({"@timestamp":"2026-11-22T00:00:00.000Z","a":3})", R"({"@timestamp":"2026-11-22T00:00:00.001Z","@metadata":{"index":"Meta"},"a":4})",
      R"({"@timestamp":"2026-11-22T10:00:00.000Z","a":5})", R"({"@timestamp":"1969-12-31T23:59:59.999Z","a":6})",
      R"({"@timestamp":"1970-01-01T00:00:00.000Z","a":7})"};
  const std::string want =
      "{\"index\":{\"_index\":\"logs-2026.11.21\"}}\n{\"@timestamp\":\"2026-11-21T05:30:59.285Z\",\"a\":1}\n"
      "{\"index\":{\"_index\":\"logs-2026.11.21\"}}\n{\"@timestamp\":\"2026-11-21T23:59:59.999Z\",\"a\":2}\n"
      "{\"index\":{\"_index\":\"logs-2026.11.22\"}}\n{\"@timestamp\":\"2026-11-22T00:00:00.000Z\",\"a\":3}\n"
      "{\"index\":{\"_index\":\"meta\"}}\n{\"@timestamp\":\"2026-11-22T00:00:00.001Z\",\"a\":4}\n"
      "{\"index\":{\"_index\":\"logs-2026.11.22\"}}\n{\"@timestamp\":\"2026-11-22T10:00:00.000Z\",\"a\":5}\n"
      "{\"index\":{\"_index\":\"logs-1969.12.31\"}}\n{\"@timestamp\":\"1969-12-31T23:59:59.999Z\",\"a\":6}\n"
      "{\"index\":{\"_index\":\"logs-1970.01.01\"}}\n{\"@timestamp\":\"1970-01-01T00:00:00.000Z\",\"a\":7}\n";
  EXPECT_EQ(Encode("index: \"logs-%{+yyyy.MM.dd}\"\n", events), want);
  // Same day, other encoders and options: nothing of the line above leaks.
  EXPECT_EQ(Encode("index: \"Other-%{+yyyy}\"\naction: create\n", {events[0]}),
            "{\"create\":{\"_index\":\"other-2026\"}}\n{\"@timestamp\":\"2026-11-21T05:30:59.285Z\",\"a\":1}\n");
  EXPECT_EQ(Encode("index: plain\npipeline: P\n", {events[0]}),
            "{\"index\":{\"_index\":\"plain\",\"pipeline\":\"P\"}}\n{\"@timestamp\":\"2026-11-21T05:30:59.285Z\",\"a\":1}\n");
  EXPECT_EQ(Encode("index: \"logs-%{+yyyy.MM.dd}\"\n", events), want);
}

TEST(BulkEncoderTest, DateTokens) {
  std::string body = Encode("index: \"w-%{+xxxx.ww}-%{+yy}-%{+HH'h'mm}\"\n",
                            {R"({"@timestamp":"2027-01-01T07:08:09Z"})", R"({"@timestamp":"2026-12-28T23:59:00Z"})"});
  // 2027-01-01 is a Friday of ISO week 2026-W53; 2026-12-28 is the Monday of it.
  EXPECT_NE(body.find(R"("_index":"w-2026.53-27-07h08")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("_index":"w-2026.53-26-23h59")"), std::string::npos) << body;
}

TEST(BulkEncoderTest, CreateForDataStreamsAndConfiguredAction) {
  EXPECT_EQ(Encode("data_stream: true\nindex: logs-app-default\n", {R"({"a":1})"}),
            "{\"create\":{\"_index\":\"logs-app-default\"}}\n{\"a\":1}\n");
  EXPECT_EQ(Encode("action: create\nindex: x\n", {R"({"a":1})"}), "{\"create\":{\"_index\":\"x\"}}\n{\"a\":1}\n");
  // Data streams stay `create` even when the event asks for index.
  EXPECT_EQ(Encode("data_stream: true\nindex: d\n", {R"({"a":1,"@metadata":{"op_type":"index"}})"}),
            "{\"create\":{\"_index\":\"d\"}}\n{\"a\":1}\n");
}

TEST(BulkEncoderTest, PipelineOption) {
  EXPECT_EQ(Encode("index: x\npipeline: \"%{[service][name]}-pipe\"\n", {R"({"service":{"name":"shop"}})"}),
            "{\"index\":{\"_index\":\"x\",\"pipeline\":\"shop-pipe\"}}\n{\"service\":{\"name\":\"shop\"}}\n");
  // @metadata.pipeline wins over the option.
  EXPECT_EQ(Encode("index: x\npipeline: p\n", {R"({"@metadata":{"pipeline":"M"},"a":1})"}),
            "{\"index\":{\"_index\":\"x\",\"pipeline\":\"m\"}}\n{\"a\":1}\n");
}

TEST(EsSinkConfigTest, ErrorsHaveFileAndLine) {
  auto errors_of = [](const std::string& yaml) {
    SinkHarness h;
    EXPECT_FALSE(h.Configure(yaml));
    return h.errors.ToString();
  };
  std::string e = errors_of("hosts: [\"localhost:9200\"]\n");
  EXPECT_NE(e.find("test.yml:1"), std::string::npos) << e;
  EXPECT_NE(e.find("http:// or https://"), std::string::npos) << e;
  e = errors_of("hosts: [http://h:99999]\n");
  EXPECT_NE(e.find("no valid port"), std::string::npos) << e;
  e = errors_of("hosts: [http://h:9200]\nindex: \"logs-%{+yyyy.MM.dd\"\n");
  EXPECT_NE(e.find("test.yml:2"), std::string::npos) << e;
  EXPECT_NE(e.find("bad index pattern"), std::string::npos) << e;
  e = errors_of("index: \"logs-%{+yyyy.QQ}\"\n");
  EXPECT_NE(e.find("unsupported date pattern"), std::string::npos) << e;
  e = errors_of("index: x\nbatch_size: 5\n");
  EXPECT_NE(e.find("batch_size"), std::string::npos) << e;
  e = errors_of("data_stream: true\naction: index\n");
  EXPECT_NE(e.find("only `create`"), std::string::npos) << e;
  e = errors_of("compression_level: 12\n");
  EXPECT_NE(e.find("compression_level"), std::string::npos) << e;
  e = errors_of("index: \"%{[@metadata][beat]}\"\n");
  EXPECT_NE(e.find("@metadata"), std::string::npos) << e;
}

TEST(EsSinkConfigTest, DefaultsAndAuth) {
  SinkHarness h;
  ASSERT_TRUE(h.Configure("hosts: [http://a:9200, \"https://b:9243/es/\"]\nusername: elastic\npassword: changeme\n"))
      << h.errors.ToString();
  EXPECT_EQ(h.cfg->hosts.size(), 2u);
  EXPECT_TRUE(h.cfg->hosts[1].tls);
  EXPECT_EQ(h.cfg->hosts[1].path_prefix, "/es");
  EXPECT_EQ(h.cfg->authorization, "Basic ZWxhc3RpYzpjaGFuZ2VtZQ==");
  EXPECT_EQ(h.cfg->max_in_flight, 4);
  EXPECT_EQ(h.cfg->flush_interval_ms, 1000);
  EXPECT_EQ(h.cfg->flush_idle_ms, 50);
  EXPECT_FALSE(h.cfg->action_create);
  SinkHarness k;
  ASSERT_TRUE(k.Configure("api_key: \"id:secret\"\n"));
  EXPECT_EQ(k.cfg->authorization, "ApiKey aWQ6c2VjcmV0");
}

TEST(BulkResponseParserTest, FilteredAndFullResponses) {
  BulkResponseParser p;
  bool errors = true;
  std::vector<BulkItemResult> items;
  std::string ok = R"({"errors":false,"items":[{"index":{"status":201}}]})";
  ASSERT_TRUE(p.Parse(&ok, &errors, &items).ok());
  EXPECT_FALSE(errors);
  std::string mixed =
      R"({"took":3,"errors":true,"items":[{"create":{"_index":"x","_id":"1","status":201}},)"
      R"({"create":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"exists","caused_by":{"type":"x"}}}},)"
      R"({"index":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}}]})";
  ASSERT_TRUE(p.Parse(&mixed, &errors, &items).ok());
  EXPECT_TRUE(errors);
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].status, 201);
  EXPECT_EQ(items[1].status, 409);
  EXPECT_EQ(items[1].error, "version_conflict_engine_exception: exists");
  EXPECT_EQ(items[2].status, 429);
  std::string bad = "not json";
  EXPECT_FALSE(p.Parse(&bad, &errors, &items).ok());
}

TEST(BulkResponseParserTest, ErrorsFalseFirstOrLastAndErrorsTrue) {
  BulkResponseParser p;
  bool errors = true;
  std::vector<BulkItemResult> items;
  // First (as Elasticsearch writes it): the fast path, items not read.
  std::string first = R"({"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}}]})";
  EXPECT_TRUE(BulkResponseAllSucceeded(first));
  ASSERT_TRUE(p.Parse(&first, &errors, &items).ok());
  EXPECT_FALSE(errors);
  EXPECT_TRUE(items.empty());
  // Last: parsed, the same answer.
  std::string last = R"({"items":[{"create":{"status":201}},{"create":{"status":201}}],"errors":false})";
  EXPECT_FALSE(BulkResponseAllSucceeded(last));
  errors = true;
  ASSERT_TRUE(p.Parse(&last, &errors, &items).ok());
  EXPECT_FALSE(errors);
  // errors true, first or last: every item read.
  for (std::string body : {std::string(R"({"errors":true,"items":[{"index":{"status":201}},{"index":{"status":429}}]})"),
                           std::string(R"({"items":[{"index":{"status":201}},{"index":{"status":429}}],"errors":true})")}) {
    EXPECT_FALSE(BulkResponseAllSucceeded(body));
    ASSERT_TRUE(p.Parse(&body, &errors, &items).ok()) << body;
    EXPECT_TRUE(errors);
    ASSERT_EQ(items.size(), 2u);
    EXPECT_EQ(items[0].status, 201);
    EXPECT_EQ(items[1].status, 429);
  }
  // Not the fast path's shape: a prefix alone, another value, a key that only starts alike.
  for (std::string_view b : {R"({"errors":false)", R"({"errors":false,"items":[)", R"({"errors":falsey})",
                             R"({"errors":false1})", R"( {"errors":false})", R"({"errors":false,"items":[]} x)",
                             R"({"errors":False})", R"({"errorsx":false})", ""}) {
    EXPECT_FALSE(BulkResponseAllSucceeded(b)) << b;
  }
  EXPECT_TRUE(BulkResponseAllSucceeded("{\"errors\":false}\r\n"));
}

// Parse (with its fast path) against ParseAll (simdjson over every body) on
// generated responses: key order, `took`, white space, item statuses and errors.
TEST(BulkResponseParserTest, FastPathAgreesWithTheFullParse) {
  std::mt19937 rng(7);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const int kStatuses[] = {200, 201, 201, 201, 409, 429, 400, 404, 500, 503};
  BulkResponseParser fast, full;
  int fast_taken = 0;
  for (int round = 0; round < 5000; ++round) {
    const int n = pick(6);
    bool any_error = false;
    std::string items_json = "[";
    for (int i = 0; i < n; ++i) {
      const int status = pick(3) == 0 ? kStatuses[pick(10)] : 201;
      if (i) items_json += ",";
      items_json += StrCat(R"({")", pick(2) ? "create" : "index", R"(":{"status":)", status);
      if (status >= 300) {
        any_error = true;
        items_json += R"(,"error":{"type":"t","reason":"r"})";
      }
      items_json += "}}";
    }
    items_json += "]";
    const bool claim = pick(4) == 0 ? !any_error : any_error;  // sometimes a lie: either way as the body says
    const std::string errors_member = StrCat(R"("errors":)", claim ? "true" : "false");
    const std::string items_member = StrCat(R"("items":)", items_json);
    std::vector<std::string> members;
    switch (pick(5)) {
      case 0: members = {errors_member, items_member}; break;
      case 1: members = {items_member, errors_member}; break;
      case 2: members = {R"("took":3)", errors_member, items_member}; break;
      case 3: members = {errors_member}; break;
      default: members = {items_member}; break;
    }
    const char* sep = pick(4) == 0 ? ", " : ",";
    std::string body = "{";
    for (size_t m = 0; m < members.size(); ++m) body += StrCat(m ? sep : "", members[m]);
    body += "}";
    if (pick(5) == 0) body += "\n";
    if (pick(20) == 0) body.resize(static_cast<size_t>(pick(static_cast<int>(body.size()))));  // truncated
    std::string a = body, b = body;
    bool errors_a = false, errors_b = false;
    std::vector<BulkItemResult> items_a, items_b;
    const absl::Status sa = fast.Parse(&a, &errors_a, &items_a);
    const absl::Status sb = full.ParseAll(&b, &errors_b, &items_b);
    if (BulkResponseAllSucceeded(body)) ++fast_taken;
    ASSERT_EQ(sa.ok(), sb.ok()) << body;
    if (!sa.ok()) continue;
    ASSERT_EQ(errors_a, errors_b) << body;
    ASSERT_EQ(items_a.size(), items_b.size()) << body;
    for (size_t i = 0; i < items_a.size(); ++i) {
      EXPECT_EQ(items_a[i].status, items_b[i].status) << body;
      EXPECT_EQ(items_a[i].error, items_b[i].error) << body;
    }
  }
  EXPECT_GT(fast_taken, 500);
}

}  // namespace
}  // namespace sluice::testing
