// The Elasticsearch sink against the emulator, with faults.

#include "sinks/elasticsearch/elasticsearch_sink.h"

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <random>
#include <set>
#include <thread>

#include "common/es_emulator.h"
#include "es_test_util.h"
#include "pipeline/app.h"

namespace sluice::testing {
namespace {

std::string SinkYaml(const EsEmulator& es, const std::string& extra = "") {
  return StrCat("hosts: [", es.url(), "]\nindex: test\nflush_interval_ms: 10\nretry_initial_interval: 20ms\n",
                "retry_max_interval: 200ms\n", extra);
}

// Every message "m i" for i < n arrived exactly once.
void ExpectEachOnce(const EsEmulator& es, int n, const std::string& prefix = "m") {
  std::multiset<std::string> seen;
  for (const auto& d : es.Documents()) seen.insert(d.source);
  for (const auto& e : Events(n, prefix)) EXPECT_EQ(seen.count(e), 1u) << e;
  EXPECT_EQ(es.Count(), static_cast<size_t>(n));
}

TEST(ElasticsearchSinkTest, DeliversAndReleasesEachBatchOnce) {
  EsEmulator es;
  ASSERT_TRUE(es.Start().ok());
  SinkHarness h;
  ASSERT_TRUE(h.Start(SinkYaml(es, "batch_max_events: 7\n"))) << h.errors.ToString();
  h.Submit(Events(10));
  h.Submit({"not json", R"({"message":"x"})"});  // the invalid event is skipped (the pipeline dead-letters it)
  ASSERT_TRUE(WaitFor([&] { return h.released.load() == 2; }));
  EXPECT_EQ(es.Count("test"), 11u);
  EXPECT_EQ(h.received(), 11);
  EXPECT_EQ(h.sent(), 11);
  EXPECT_EQ(h.dead_lettered(), 0);
  auto reqs = es.Requests();
  ASSERT_GE(reqs.size(), 2u);  // 7 + the rest
  // The first request holds the first 7 events; it may reach the emulator
  // after the second (several connections), so it is looked for by size.
  size_t items = 0, full = 0;
  for (auto& r : reqs) {
    items += r.items;
    full += r.items == 7u;
    EXPECT_LE(r.items, 7u);
    EXPECT_EQ(r.target, "/_bulk?filter_path=errors,items.*.error,items.*.status");
    EXPECT_EQ(r.headers["content-type"], "application/json");
    EXPECT_EQ(r.headers.count("authorization"), 0u);
  }
  EXPECT_GE(full, 1u);
  EXPECT_EQ(items, 11u);
  h.sink->Stop(NowMs() + 1000);
  EXPECT_EQ(h.released.load(), 2);  // exactly once
  EXPECT_GE(h.metrics.Sum("sluice_elasticsearch_bulk_requests_total", {{"status", "200"}}), 2);
}

// Batches of many sizes across requests of many sizes (a request holds runs
// of several batches' events; a batch spans several requests): every batch is
// released exactly once, every event indexed once, the counters add up.
TEST(ElasticsearchSinkTest, BatchesSpanningRequestsAreReleasedOnceEach) {
  std::mt19937 rng(11);
  for (int round = 0; round < 4; ++round) {
    EsEmulator es;
    ASSERT_TRUE(es.Start().ok());
    if (round == 3) es.FailNextItems(5, 429);  // some items retried: the per-item path
    SinkHarness h;
    const int max_events = 1 + static_cast<int>(rng() % 40);
    ASSERT_TRUE(h.Start(SinkYaml(es, StrCat("batch_max_events: ", max_events, "\n")))) << h.errors.ToString();
    int total = 0;
    for (int b = 0; b < 30; ++b) {
      const int n = 1 + static_cast<int>(rng() % 25);
      h.Submit(Events(n, StrCat("r", round, "b", b)));
      total += n;
    }
    ASSERT_TRUE(h.WaitAllReleased()) << "round " << round;
    h.sink->Stop(NowMs() + 1000);
    EXPECT_EQ(h.released.load(), 30);
    EXPECT_EQ(es.Count(), static_cast<size_t>(total));
    EXPECT_EQ(h.sent(), total);
    EXPECT_EQ(h.received(), h.sent() + h.dead_lettered());
    EXPECT_EQ(h.sink->held_batches(), 0u);
  }
}

TEST(ElasticsearchSinkTest, PerItem429RetriesOnlyTheFailedItems) {
  EsEmulator es;
  ASSERT_TRUE(es.Start().ok());
  es.FailNextItems(3, 429);
  SinkHarness h;
  ASSERT_TRUE(h.Start(SinkYaml(es)));
  h.Submit(Events(20));
  ASSERT_TRUE(h.WaitAllReleased());
  ExpectEachOnce(es, 20);
  auto reqs = es.Requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].items, 20u);
  EXPECT_EQ(reqs[1].items, 3u);
  EXPECT_EQ(h.retried(), 3);
  EXPECT_EQ(h.sent(), 20);
  EXPECT_EQ(h.received(), h.sent() + h.dead_lettered());
}

TEST(ElasticsearchSinkTest, PerItem400GoesToTheDeadLetterQueue) {
  EsEmulator es;
  ASSERT_TRUE(es.Start().ok());
  es.FailItemsMatching([](const EsItem& it) { return it.source.find("\"m 4\"") != std::string_view::npos; }, 400,
                       "document_parsing_exception");
  SinkHarness h;
  ASSERT_TRUE(h.Start(SinkYaml(es)));
  h.Submit(Events(10));
  ASSERT_TRUE(h.WaitAllReleased());
  EXPECT_EQ(es.Count(), 9u);
  EXPECT_EQ(h.sent(), 9);
  EXPECT_EQ(h.dead_lettered(), 1);
  EXPECT_EQ(h.received(), h.sent() + h.dead_lettered());
  auto dlq = h.DlqLines();
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_NE(dlq[0].find("status 400 document_parsing_exception"), std::string::npos) << dlq[0];
  EXPECT_NE(dlq[0].find("m 4"), std::string::npos) << dlq[0];
  EXPECT_NE(dlq[0].find("\"peer\":\"127.0.0.1:1234\""), std::string::npos) << dlq[0];
}

TEST(ElasticsearchSinkTest, Conflict409OnCreateCountsAsDelivered) {
  EsEmulator es;
  ASSERT_TRUE(es.Start().ok());
  SinkHarness h;
  ASSERT_TRUE(h.Start(SinkYaml(es)));
  std::vector<std::string> evs;
  for (int i = 0; i < 5; ++i) evs.push_back(StrCat(R"({"message":"m )", i, R"(","@metadata":{"_id":"id-)", i, "\"}}"));
  h.Submit(evs);
  ASSERT_TRUE(WaitFor([&] { return h.released.load() == 1; }));
  h.Submit(evs);  // a replay: every item is a 409
  ASSERT_TRUE(h.WaitAllReleased());
  EXPECT_EQ(es.Count(), 5u);
  EXPECT_EQ(h.sink->duplicates(), 5u);
  EXPECT_EQ(h.sent(), 10);
  EXPECT_EQ(h.dead_lettered(), 0);
  EXPECT_EQ(es.Get("test", "id-3").value_or(""), R"({"message":"m 3"})");
}

TEST(ElasticsearchSinkTest, Request5xxAnd429AreRetried) {
  EsEmulator es;
  ASSERT_TRUE(es.Start().ok());
  es.FailNextRequests(2, 503);
  SinkHarness h;
  ASSERT_TRUE(h.Start(SinkYaml(es)));
  h.Submit(Events(10));
  ASSERT_TRUE(h.WaitAllReleased());
  es.FailNextRequests(1, 429);
  h.Submit(Events(5, "n"));
  ASSERT_TRUE(h.WaitAllReleased());
  EXPECT_EQ(es.Count(), 15u);
  EXPECT_EQ(h.metrics.Sum("sluice_elasticsearch_bulk_requests_total", {{"status", "503"}}), 2);
  EXPECT_EQ(h.metrics.Sum("sluice_elasticsearch_bulk_requests_total", {{"status", "429"}}), 1);
  EXPECT_EQ(h.retried(), 25);
  EXPECT_EQ(h.sent(), 15);
}

TEST(ElasticsearchSinkTest, Request413IsSplitAndAnOversizedEventDeadLettered) {
  EsEmulatorOptions o;
  o.max_content_length = 2000;
  EsEmulator es(o);
  ASSERT_TRUE(es.Start().ok());
  SinkHarness h;
  ASSERT_TRUE(h.Start(SinkYaml(es)));
  std::string big(3000, 'x');
  std::vector<std::string> evs = Events(20, "m", StrCat(",\"pad\":\"", std::string(100, 'p'), "\""));
  evs.push_back(StrCat(R"({"message":"big","pad":")", big, "\"}"));
  h.Submit(evs);
  ASSERT_TRUE(h.WaitAllReleased());
  EXPECT_EQ(es.Count(), 20u);
  EXPECT_EQ(h.sent(), 20);
  EXPECT_EQ(h.dead_lettered(), 1);
  auto dlq = h.DlqLines();
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_NE(dlq[0].find("413"), std::string::npos) << dlq[0];
  EXPECT_NE(dlq[0].find("\\\"message\\\":\\\"big\\\""), std::string::npos);
  EXPECT_GE(h.metrics.Sum("sluice_elasticsearch_bulk_requests_total", {{"status", "413"}}), 2);
}

TEST(ElasticsearchSinkTest, DroppedConnectionsAreRetried) {
  EsEmulator es;
  ASSERT_TRUE(es.Start().ok());
  es.DropNextConnections(2);
  SinkHarness h;
  ASSERT_TRUE(h.Start(SinkYaml(es)));
  h.Submit(Events(10));
  ASSERT_TRUE(h.WaitAllReleased());
  ExpectEachOnce(es, 10);
  EXPECT_EQ(h.metrics.Sum("sluice_component_errors_total", {{"component", "elasticsearch"}, {"reason", "connection"}}),
            2);
}

TEST(ElasticsearchSinkTest, DropAfterIndexingGivesDuplicatesNotLoss) {
  // The documents were stored but the answer was lost: the retry is a 409 for
  // each (deterministic ids), counted as delivered.
  EsEmulator es;
  ASSERT_TRUE(es.Start().ok());
  es.DropNextConnections(1, /*process_first=*/true);
  SinkHarness h;
  ASSERT_TRUE(h.Start(SinkYaml(es)));
  std::vector<std::string> evs;
  for (int i = 0; i < 6; ++i) evs.push_back(StrCat(R"({"message":"m )", i, R"(","@metadata":{"_id":"k)", i, "\"}}"));
  h.Submit(evs);
  ASSERT_TRUE(h.WaitAllReleased());
  EXPECT_EQ(es.Count(), 6u);
  EXPECT_EQ(h.sink->duplicates(), 6u);
}

TEST(ElasticsearchSinkTest, SlowAnswersAndTimeouts) {
  EsEmulator es;
  ASSERT_TRUE(es.Start().ok());
  es.SetResponseDelay(std::chrono::milliseconds(150));
  SinkHarness h;
  ASSERT_TRUE(h.Start(SinkYaml(es, "timeout: 5s\n")));
  h.Submit(Events(5));
  ASSERT_TRUE(h.WaitAllReleased());  // slow, not failed
  EXPECT_EQ(h.retried(), 0);

  // An answer slower than `timeout` is retried on a new connection.
  SinkHarness t;
  ASSERT_TRUE(t.Start(SinkYaml(es, "timeout: 50ms\n")));
  es.SetResponseDelay(std::chrono::milliseconds(400));
  t.Submit(Events(3, "s"));
  ASSERT_TRUE(WaitFor([&] {
    return t.metrics.Sum("sluice_component_errors_total", {{"component", "elasticsearch"}, {"reason", "timeout"}}) >= 1;
  }));
  es.SetResponseDelay(std::chrono::milliseconds(0));
  ASSERT_TRUE(t.WaitAllReleased());
  EXPECT_GE(es.Count(), 5u + 3u);  // at least once (the timed-out request was indexed too)
}

TEST(ElasticsearchSinkTest, GzipBodiesAreDecodedByTheEmulator) {
  EsEmulator es;
  ASSERT_TRUE(es.Start().ok());
  SinkHarness h;
  ASSERT_TRUE(h.Start(SinkYaml(es, "compression_level: 6\n")));
  h.Submit(Events(50));
  ASSERT_TRUE(h.WaitAllReleased());
  ExpectEachOnce(es, 50);
  auto reqs = es.Requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].headers["content-encoding"], "gzip");
  EXPECT_LT(reqs[0].body_bytes, reqs[0].decoded_body_bytes);
  EXPECT_EQ(reqs[0].headers["x-elastic-uncompressed-request-length"], std::to_string(reqs[0].decoded_body_bytes));
}

TEST(ElasticsearchSinkTest, BasicAuth) {
  EsEmulatorOptions o;
  o.username = "elastic";
  o.password = "s3cret";
  EsEmulator es(o);
  ASSERT_TRUE(es.Start().ok());
  SinkHarness h;
  ASSERT_TRUE(h.Start(SinkYaml(es, "username: elastic\npassword: s3cret\n")));
  h.Submit(Events(3));
  ASSERT_TRUE(h.WaitAllReleased());
  EXPECT_EQ(es.Requests()[0].headers["authorization"], "Basic ZWxhc3RpYzpzM2NyZXQ=");

  // Wrong credentials: retried (never dropped), nothing released.
  SinkHarness bad;
  ASSERT_TRUE(bad.Start(SinkYaml(es, "username: elastic\npassword: wrong\n")));
  bad.Submit(Events(3, "b"));
  ASSERT_TRUE(WaitFor([&] { return bad.metrics.Sum("sluice_elasticsearch_bulk_requests_total", {{"status", "401"}}) >= 2; }));
  bad.sink->Stop(NowMs());
  EXPECT_EQ(bad.released.load(), 0);
  EXPECT_EQ(bad.dead_lettered(), 0);
  EXPECT_EQ(es.Count(), 3u);
}

TEST(ElasticsearchSinkTest, ApiKey) {
  EsEmulatorOptions o;
  o.api_key = "aWQ6c2VjcmV0";  // base64("id:secret")
  EsEmulator es(o);
  ASSERT_TRUE(es.Start().ok());
  SinkHarness h;
  ASSERT_TRUE(h.Start(SinkYaml(es, "api_key: \"id:secret\"\n")));
  h.Submit(Events(3));
  ASSERT_TRUE(h.WaitAllReleased());
  EXPECT_EQ(es.Requests()[0].headers["authorization"], "ApiKey aWQ6c2VjcmV0");
}

// A sink whose TLS handshake with `es` fails: it counts a connection error and
// releases nothing (the batch stays held for a retry).
void ExpectTlsRefused(EsEmulator& es, const std::string& sink_yaml_extra) {
  SinkHarness h;
  ASSERT_TRUE(h.Start(SinkYaml(es, sink_yaml_extra)));
  h.Submit(Events(2, "refused"));
  ASSERT_TRUE(WaitFor([&] {
    return h.metrics.Sum("sluice_component_errors_total", {{"component", "elasticsearch"}, {"reason", "connection"}}) >= 1;
  }));
  h.sink->Stop(NowMs());
  EXPECT_EQ(h.released.load(), 0);
}

TEST(ElasticsearchSinkTest, TlsWithCaVerification) {
  TempDir certs;
  ASSERT_TRUE(MakeTestCertificates(certs.path()));
  EsEmulatorOptions o;
  o.tls_certificate = certs.File("server.pem");
  o.tls_key = certs.File("server.key");
  EsEmulator es(o);
  ASSERT_TRUE(es.Start().ok());
  ASSERT_EQ(es.url().substr(0, 8), "https://");
  SinkHarness h;
  ASSERT_TRUE(h.Start(SinkYaml(es, StrCat("tls:\n  ca: ", certs.File("ca.pem"), "\n"))));
  h.Submit(Events(4));
  ASSERT_TRUE(h.WaitAllReleased());
  ExpectEachOnce(es, 4);

  // Without the test CA the server is not trusted: nothing is delivered.
  ExpectTlsRefused(es, "");
  EXPECT_EQ(es.Count(), 4u);
}

// Elasticsearch with xpack.security.http.ssl.client_authentication: required.
TEST(ElasticsearchSinkTest, TlsClientCertificate) {
  TempDir certs;
  ASSERT_TRUE(MakeTestCertificates(certs.path()));
  EsEmulatorOptions o;
  o.tls_certificate = certs.File("server.pem");
  o.tls_key = certs.File("server.key");
  o.tls_client_ca = certs.File("ca.pem");
  EsEmulator es(o);
  ASSERT_TRUE(es.Start().ok());
  SinkHarness h;
  ASSERT_TRUE(h.Start(SinkYaml(es, StrCat("tls:\n  ca: ", certs.File("ca.pem"), "\n  certificate: ",
                                          certs.File("client.pem"), "\n  key: ", certs.File("client.key"), "\n"))));
  h.Submit(Events(5));
  ASSERT_TRUE(h.WaitAllReleased());
  ExpectEachOnce(es, 5);
  auto requests = es.Requests();
  ASSERT_FALSE(requests.empty());
  for (const auto& r : requests) EXPECT_NE(r.tls_client_subject.find("CN=sluice client"), std::string::npos);
  EXPECT_EQ(es.stats().tls_handshake_failures, 0u);

  // Trusting the server but presenting no certificate: the handshake fails, nothing is
  // delivered, the failure is counted as a connection error and the batch stays held.
  ExpectTlsRefused(es, StrCat("tls:\n  ca: ", certs.File("ca.pem"), "\n"));
  EXPECT_GE(es.stats().tls_handshake_failures, 1u);
  EXPECT_EQ(es.Count(), 5u);
}

TEST(ElasticsearchSinkTest, BackpressureWhenStalled) {
  EsEmulator es;
  ASSERT_TRUE(es.Start().ok());
  es.Stall();
  SinkHarness h;
  ASSERT_TRUE(h.Start(SinkYaml(es, "max_queue_bytes: 64KiB\nbatch_max_events: 50\n")));
  constexpr int kBatches = 40;
  std::atomic<int> done{0};
  std::thread producer([&] {
    for (int b = 0; b < kBatches; ++b) {
      h.Submit(Events(50, StrCat("b", b)));
      done.fetch_add(1);
    }
  });
  // The producer gets stuck once the sink holds max_queue_bytes.
  ASSERT_TRUE(WaitFor([&] { return es.stalled_requests() >= 1; }));
  ASSERT_TRUE(WaitFor([&] {
    int d = done.load();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return d == done.load() && d < kBatches;
  }));
  EXPECT_LT(done.load(), kBatches);
  EXPECT_LE(h.sink->queued_bytes(), 64u * 1024 + 32 * 1024);  // bounded: at most one batch over
  // The gauges show the queue and its bound.
  EXPECT_EQ(h.metrics.Value("sluice_queue_max_bytes", {{"queue", h.cfg->id}}), 64.0 * 1024);
  EXPECT_EQ(h.metrics.Value("sluice_queue_bytes", {{"queue", h.cfg->id}}), static_cast<double>(h.sink->queued_bytes()));
  EXPECT_EQ(h.released.load(), 0);
  es.Release();
  producer.join();
  ASSERT_TRUE(h.WaitAllReleased());
  EXPECT_EQ(es.Count(), static_cast<size_t>(kBatches * 50));
  EXPECT_EQ(h.sent(), kBatches * 50);
  EXPECT_EQ(h.sink->queued_bytes(), 0u);
}

// The bound counts what the sink holds for a batch: the batch's memory and the
// request body encoded from it (documents and action lines), whether the body
// was sealed into one request or two, until the batch is delivered.
TEST(ElasticsearchSinkTest, QueuedBytesCountTheEncodedBodies) {
  EsEmulator es;
  ASSERT_TRUE(es.Start().ok());
  es.Stall();
  SinkHarness h;
  ASSERT_TRUE(h.Start(SinkYaml(es, "batch_max_events: 30\n")));
  const std::vector<std::string> lines = Events(45, "held", ",\"service\":{\"name\":\"shop-api\"}");
  BatchPtr b = h.MakeBatch(lines);
  std::string body;
  BulkEncoder enc(h.cfg.get());
  for (size_t i = 0; i < b->size(); ++i) enc.Append(*b, i, &body);
  const size_t expected = b->MemoryBytes() + body.size();
  h.submitted.fetch_add(1);
  h.sink->Submit(b);
  b.reset();
  ASSERT_TRUE(WaitFor([&] { return es.stalled_requests() >= 1; }));
  EXPECT_EQ(h.sink->queued_bytes(), expected);
  EXPECT_EQ(h.metrics.Value("sluice_queue_bytes", {{"queue", h.cfg->id}}), static_cast<double>(expected));
  es.Release();
  ASSERT_TRUE(h.WaitAllReleased());
  EXPECT_EQ(es.Count(), 45u);
  EXPECT_EQ(h.sink->queued_bytes(), 0u);
}

// The spare body buffers kept for reuse stay within a quarter of
// max_queue_bytes, however large the requests were.
TEST(ElasticsearchSinkTest, SpareBodiesBoundedInBytes) {
  EsEmulator es;
  ASSERT_TRUE(es.Start().ok());
  SinkHarness h;
  ASSERT_TRUE(h.Start(SinkYaml(es, "max_queue_bytes: 64KiB\nbatch_max_events: 40\n")));
  const std::string pad(600, 'x');
  for (int b = 0; b < 12; ++b) h.Submit(Events(40, StrCat("big", b), StrCat(",\"pad\":\"", pad, "\"")));
  ASSERT_TRUE(h.WaitAllReleased());
  EXPECT_EQ(es.Count(), 480u);
  // Each request's body (~28 KB) is more than the 16 KiB the spares may take:
  // every body was freed once delivered.
  EXPECT_LE(h.sink->pooled_body_bytes(), 16u * 1024);
}

TEST(ElasticsearchSinkTest, StopKeepsUndeliveredBatchesUnreleased) {
  EsEmulator es;
  ASSERT_TRUE(es.Start().ok());
  es.FailNextRequests(1000, 503);
  SinkHarness h;
  ASSERT_TRUE(h.Start(SinkYaml(es)));
  h.Submit(Events(3));
  ASSERT_TRUE(WaitFor([&] { return h.retried() >= 3; }));
  h.sink->Stop(NowMs() + 100);
  EXPECT_EQ(h.released.load(), 0);
  EXPECT_EQ(h.sent(), 0);
}

TEST(ElasticsearchSinkTest, StopFlushesWhatItHolds) {
  EsEmulator es;
  ASSERT_TRUE(es.Start().ok());
  SinkHarness h;
  ASSERT_TRUE(h.Start(StrCat("hosts: [", es.url(), "]\nindex: test\nflush_interval: 1h\nflush_idle: 0\n")));
  h.Submit(Events(5));
  EXPECT_EQ(es.Count(), 0u);
  h.sink->Stop(NowMs() + 10'000);
  EXPECT_EQ(h.released.load(), 1);
  EXPECT_EQ(es.Count(), 5u);
}

// A sender waiting for its ACK sends nothing more: an undersized request
// goes out after flush_idle without a new event, not after flush_interval
// (an hour here, so without the idle flush nothing would arrive).
TEST(ElasticsearchSinkTest, SealsAnUndersizedRequestOnceIdle) {
  EsEmulator es;
  ASSERT_TRUE(es.Start().ok());
  SinkHarness h;
  ASSERT_TRUE(h.Start(StrCat("hosts: [", es.url(), "]\nindex: test\nflush_interval: 1h\nflush_idle: 50ms\n")));
  h.Submit(Events(5));
  ASSERT_TRUE(h.WaitAllReleased());
  ExpectEachOnce(es, 5);
  h.Submit(Events(3));
  ASSERT_TRUE(WaitFor([&] { return h.released.load() == 2; }));
  EXPECT_EQ(es.Count(), 8u);
}

TEST(ElasticsearchSinkTest, FailsOverToTheNextHost) {
  EsEmulator es;
  ASSERT_TRUE(es.Start().ok());
  int dead_port = FreeTcpPort();
  SinkHarness h;
  ASSERT_TRUE(h.Start(StrCat("hosts: [http://127.0.0.1:", dead_port, ", ", es.url(),
                             "]\nindex: test\nflush_interval_ms: 10\nretry_initial_interval: 20ms\nmax_in_flight: 1\n")));
  h.Submit(Events(5));
  ASSERT_TRUE(h.WaitAllReleased());
  ExpectEachOnce(es, 5);
}

TEST(ElasticsearchSinkTest, DataStreamRejectsIndexPerItem) {
  EsEmulatorOptions o;
  o.data_streams = {"logs-*"};
  EsEmulator es(o);
  ASSERT_TRUE(es.Start().ok());
  SinkHarness h;  // a misconfigured plain index output writing to a data stream name
  ASSERT_TRUE(h.Start(StrCat("hosts: [", es.url(), "]\nindex: logs-app-default\nflush_interval_ms: 10\n")));
  h.Submit(Events(2));
  ASSERT_TRUE(h.WaitAllReleased());
  EXPECT_EQ(h.dead_lettered(), 2);
  auto dlq = h.DlqLines();
  ASSERT_EQ(dlq.size(), 2u);
  EXPECT_NE(dlq[0].find("op_type of create"), std::string::npos);
  SinkHarness ds;
  ASSERT_TRUE(ds.Start(StrCat("hosts: [", es.url(), "]\ndata_stream: true\nindex: logs-app-default\nflush_interval_ms: 10\n")));
  ds.Submit(Events(2));
  ASSERT_TRUE(ds.WaitAllReleased());
  EXPECT_EQ(es.Count("logs-app-default"), 2u);
}

// ---- Through a whole App: a test input pushes batches into the pipeline.

BatchReceiver* g_receiver = nullptr;
class PushInput : public Input {
 public:
  std::string_view name() const override { return "push"; }
  absl::Status Start(BatchReceiver* r) override {
    g_receiver = r;
    return absl::OkStatus();
  }
  void StopAccepting() override {}
  void Stop() override { g_receiver = nullptr; }
};
SLUICE_REGISTER_INPUT("es_test_push", [](ConfigMap& cfg, ComponentContext&) -> std::unique_ptr<Input> {
  cfg.Finish();
  return std::make_unique<PushInput>();
});

TEST(ElasticsearchSinkAppTest, EndToEndThroughThePipeline) {
  EsEmulator es;
  ASSERT_TRUE(es.Start().ok());
  es.FailNextItems(2, 429);
  TempDir dir;
  std::string yaml = StrCat("data_dir: ", dir.path(), "\nhttp:\n  listen: \"\"\n", "inputs:\n  - type: es_test_push\n",
                            "outputs:\n  - type: elasticsearch\n    hosts: [", es.url(), "]\n",
                            "    index: \"logs-%{[event][dataset]}-%{+yyyy.MM.dd}\"\n    flush_interval: 10ms\n",
                            "    retry_initial_interval: 20ms\n");
  auto app = App::Load(yaml, "test.yml", false);
  ASSERT_TRUE(app.ok()) << app.status();
  ASSERT_TRUE((*app)->Start().ok());
  ASSERT_NE(g_receiver, nullptr);
  std::atomic<int> acked{0};
  constexpr int kBatches = 5;
  for (int b = 0; b < kBatches; ++b) {
    auto batch = std::make_shared<Batch>();
    batch->source = "es_test_push";
    for (int i = 0; i < 10; ++i) {
      batch->Append(StrCat(R"({"@timestamp":"2026-11-21T05:30:59.285Z","event":{"dataset":"shop.api"},"n":)", b * 10 + i,
                           R"(,"@metadata":{"beat":"filebeat"}})"));
    }
    batch->Append("{broken");
    batch->arena().reserve(batch->arena().size() + 64);
    batch->SetOnSafe([&] { acked.fetch_add(1); });
    ASSERT_TRUE(g_receiver->TryPush(batch, [] {}));
  }
  ASSERT_TRUE(WaitFor([&] { return acked.load() == kBatches; }));
  EXPECT_EQ(es.Count("logs-shop.api-2026.11.21"), 50u);
  auto docs = es.Documents();
  ASSERT_FALSE(docs.empty());
  EXPECT_EQ(docs[0].source.find("@metadata"), std::string::npos);  // stripped
  MetricsRegistry* m = (*app)->metrics();
  Labels l = {{"component", "elasticsearch"}};
  EXPECT_EQ(m->Sum("sluice_component_received_events_total", l), 50);
  EXPECT_EQ(m->Sum("sluice_component_sent_events_total", l), 50);
  EXPECT_EQ(m->Sum("sluice_component_retried_events_total", l), 2);
  EXPECT_EQ((*app)->dead_letters()->written(), 5u);  // the broken events, by the pipeline
  (*app)->Shutdown();
  EXPECT_EQ(acked.load(), kBatches);
}

}  // namespace
}  // namespace sluice::testing

namespace sluice::testing {
namespace {

// Throughput of the sink alone against the standalone fast emulator (a separate
// process, so its CPU is not counted). Run by hand:
//   elasticsearch_sink_test --gtest_also_run_disabled_tests --gtest_filter='*Throughput*'
TEST(ElasticsearchSinkPerfTest, DISABLED_Throughput) {
  TempDir dir;
  Subprocess emu({BinaryDir() + "/tests/common/sluice-es-emulator", "--listen", "127.0.0.1:0", "--fast"},
                 dir.File("emu.log"));
  ASSERT_TRUE(WaitFor([&] { return !ReadLines(dir.File("emu.log")).empty(); }));
  std::string port = ReadLines(dir.File("emu.log"))[0];
  for (int level : {0, 1}) {
    SinkHarness h;
    ASSERT_TRUE(h.Start(StrCat("hosts: [http://127.0.0.1:", port, "]\nindex: \"logs-%{[event][dataset]}-%{+yyyy.MM.dd}\"\n",
                               "compression_level: ", level, "\n")));
    // Filebeat-like events (~400 bytes) in batches of 2048.
    std::vector<std::string> lines;
    for (int i = 0; i < 2048; ++i) {
      lines.push_back(StrCat(
          R"({"@timestamp":"2026-11-21T05:30:59.285Z","@metadata":{"beat":"filebeat","type":"_doc","version":"8.13.4"},)",
          R"("message":"2026-11-21 05:30:59,285 INFO [mes.calc] order )", i,
          R"( stage 3 finished in 41 ms","log":{"file":{"path":"/var/log/mes/calc.log"},"offset":)", i * 120,
          R"(},"event":{"dataset":"mes.calc"},"input":{"type":"filestream"},"agent":{"name":"host-1","type":"filebeat",)",
          R"("version":"8.13.4"},"ecs":{"version":"8.0.0"},"host":{"name":"host-1"}})"));
    }
    std::vector<BatchPtr> batches;
    constexpr int kBatches = 500;
    for (int b = 0; b < kBatches; ++b) batches.push_back(h.MakeBatch(lines));
    rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    auto t0 = std::chrono::steady_clock::now();
    for (auto& b : batches) {
      h.submitted.fetch_add(1);
      h.sink->Submit(std::move(b));
    }
    ASSERT_TRUE(h.WaitAllReleased());
    auto t1 = std::chrono::steady_clock::now();
    getrusage(RUSAGE_SELF, &r1);
    auto cpu = [](const rusage& r) {
      return r.ru_utime.tv_sec + r.ru_stime.tv_sec + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
    };
    const double events = 2048.0 * kBatches;
    const double wall = std::chrono::duration<double>(t1 - t0).count();
    std::printf("compression_level %d: %.0f events/s wall, %.2f M events per sink CPU-second\n", level, events / wall,
                events / (cpu(r1) - cpu(r0)) / 1e6);
    h.sink->Stop(NowMs() + 1000);
  }
}

}  // namespace
}  // namespace sluice::testing
