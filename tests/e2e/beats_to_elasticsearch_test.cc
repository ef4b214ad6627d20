// The core path end to end, against real peers: the npm lumberjack-client (a
// real Lumberjack v2 encoder, zlib windows, pipelined) → sluice (a real App:
// beats input, pipeline, elasticsearch output) → the Elasticsearch emulator,
// with the emulator's faults. Nothing may be lost: every event the client saw
// ACKed is in Elasticsearch or in the dead-letter queue with its reason, and
// the counters add up.
#include <gtest/gtest.h>

#include <algorithm>
#include <signal.h>

#include <filesystem>

#include "common/es_emulator.h"
#include "common/strings.h"
#include "common/test_util.h"
#include "pipeline/app.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using testing::ReadFile;
using testing::ReadLines;
using testing::WaitFor;

class BeatsToElasticsearchTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(es_.Start().ok()); }
  void TearDown() override {
    if (app_) app_->Shutdown();
  }

  void StartApp(const std::string& extra_output = "", const std::string& top = "") {
    std::string yaml = StrCat("data_dir: ", dir_.File("data"), "\n", top, R"(
http: {listen: "127.0.0.1:0"}
inputs:
  - {type: beats, listen: "127.0.0.1:0", keepalive_interval: 300ms}
outputs:
  - type: elasticsearch
    hosts: [")", es_.url(), R"("]
    index: "logs-%{[host][name]}-%{+yyyy.MM.dd}"
    flush_interval: 50ms
    retry_initial_interval: 20ms
    retry_max_interval: 200ms
)", extra_output);
    auto app = App::Load(yaml, "e2e.yml", false);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    port_ = testing::PortOf(app_->inputs()[0]->bound_address());
  }

  std::unique_ptr<testing::Subprocess> StartClient(int count, int batch) {
    std::vector<std::string> argv = {"node", testing::SourceDir() + "/tests/peers/lumberjack_send.js", "127.0.0.1",
                                     std::to_string(port_), std::to_string(count), std::to_string(batch), "0",
                                     dir_.File("expected.ndjson")};
    return std::make_unique<testing::Subprocess>(argv, dir_.File("node.log"));
  }

  // Runs the client to completion: every window must be ACKed.
  void RunClient(int count, int batch) {
    auto node = StartClient(count, batch);
    int rc = node->Wait(120s);
    ASSERT_EQ(rc, 0) << ReadFile(dir_.File("node.log"));
  }

  double Metric(const std::string& name, const Labels& match) { return app_->metrics()->Sum(name, match); }

  std::vector<std::string> DeadLetters() {
    std::vector<std::string> out;
    std::string d = dir_.File("data/dlq");
    if (!std::filesystem::exists(d)) return out;
    for (const auto& de : std::filesystem::directory_iterator(d)) {
      for (auto& l : ReadLines(de.path().string())) out.push_back(l);
    }
    return out;
  }

  testing::TempDir dir_;
  testing::EsEmulator es_;
  std::unique_ptr<App> app_;
  int port_ = 0;
};

TEST_F(BeatsToElasticsearchTest, EveryAckedEventIsInElasticsearchWithItsContent) {
  StartApp();
  const int kCount = 20000;
  RunClient(kCount, 2048);
  // ACKed means delivered: no waiting needed after the client saw every ACK.
  ASSERT_EQ(es_.Count(), static_cast<size_t>(kCount));
  std::vector<std::string> want = ReadLines(dir_.File("expected.ndjson"));
  std::vector<std::string> got;
  for (const auto& d : es_.Documents()) got.push_back(d.source);
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << "document " << i;
  EXPECT_EQ(es_.Indices(), (std::vector<std::string>{"logs-mes-01-2026.11.21"}));
  EXPECT_EQ(Metric("sluice_component_received_events_total", {{"kind", "beats"}}), kCount);
  EXPECT_EQ(Metric("sluice_component_sent_events_total", {{"kind", "elasticsearch"}}), kCount);
}

TEST_F(BeatsToElasticsearchTest, FaultsLoseNothingAndCountersAddUp) {
  StartApp();
  // Per-item 429s (retried), mapping errors for some events (dead-lettered),
  // whole-request 503s (retried) and a dropped connection (retried).
  es_.FailNextItems(700, 429, "es_rejected_execution_exception");
  es_.FailItemsMatching(
      [](const testing::EsItem& it) { return it.source.find("calculation stage 13") != std::string_view::npos; }, 400,
      "document_parsing_exception");
  es_.FailNextRequests(2, 503);
  es_.DropNextConnections(1);
  const int kCount = 5000;
  RunClient(kCount, 500);
  // Events 13, 130..139, 1300..1399 carry "calculation stage 13".
  const size_t kRejected = 1 + 10 + 100;
  std::vector<std::string> dlq = DeadLetters();
  EXPECT_EQ(dlq.size(), kRejected);
  for (const auto& l : dlq) {
    EXPECT_NE(l.find("rejected the event: status 400 document_parsing_exception"), std::string::npos) << l;
    EXPECT_NE(l.find("\"component\":\"elasticsearch\""), std::string::npos) << l;
  }
  EXPECT_EQ(es_.Count() + dlq.size(), static_cast<size_t>(kCount));
  double received = Metric("sluice_component_received_events_total", {{"kind", "beats"}});
  double delivered = Metric("sluice_component_sent_events_total", {{"kind", "elasticsearch"}});
  double dead = Metric("sluice_component_dead_lettered_events_total", {{"kind", "elasticsearch"}});
  EXPECT_EQ(received, kCount);
  EXPECT_EQ(delivered + dead, received);
  EXPECT_GT(Metric("sluice_component_retried_events_total", {{"kind", "elasticsearch"}}), 0);
}

TEST_F(BeatsToElasticsearchTest, StalledElasticsearchBoundsMemoryKeepsHeartbeatsThenDeliversAll) {
  StartApp(R"(    max_queue_bytes: 1MiB
    batch_max_events: 1000
)",
           "pipeline: {queue: {type: memory, max_bytes: 1MiB}}\n");
  es_.Stall();
  const int kCount = 60000;
  auto node = StartClient(kCount, 1000);
  // sluice takes what its queues hold and then stops reading.
  ASSERT_TRUE(WaitFor([&] { return es_.stalled_requests() > 0; }));
  double last = -1, now = 0;
  ASSERT_TRUE(WaitFor([&] {
    now = Metric("sluice_component_received_events_total", {{"kind", "beats"}});
    bool steady = now == last;
    last = now;
    std::this_thread::sleep_for(200ms);  // sampling period of the steadiness check, not a wait for an event
    return steady && now > 0;
  }));
  EXPECT_LT(now, kCount) << "sluice kept reading although Elasticsearch was stalled";
  EXPECT_LE(app_->metrics()->Value("sluice_queue_bytes", {{"queue", "pipeline"}}), 2.0 * (1 << 20));
  for (const auto& s : app_->sinks()) EXPECT_LE(s->queued_bytes(), 2u * (1 << 20));
  // Heartbeats keep the client waiting instead of timing out.
  ASSERT_TRUE(WaitFor([&] { return Metric("sluice_beats_heartbeats_total", {}) >= 3; }));
  es_.Release();
  ASSERT_EQ(node->Wait(120s), 0) << ReadFile(dir_.File("node.log"));
  EXPECT_EQ(es_.Count(), static_cast<size_t>(kCount));
  EXPECT_NE(ReadFile(dir_.File("node.log")).find("heartbeats "), std::string::npos);
}

TEST_F(BeatsToElasticsearchTest, InvalidJsonIsDeadLetteredAndTheWindowStillAcked) {
  StartApp();
  testing::TcpClient c;
  ASSERT_TRUE(c.Connect("127.0.0.1", port_));
  auto u32 = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
  };
  std::vector<std::string> events = {R"({"message":"good 1"})", R"({"message": broken)", R"({"message":"good 2"})"};
  std::string w = "2W" + u32(events.size());
  for (size_t i = 0; i < events.size(); ++i) w += "2J" + u32(i + 1) + u32(events[i].size()) + events[i];
  ASSERT_TRUE(c.WriteAll(w));
  std::string ack;
  do {
    ASSERT_TRUE(c.ReadExact(6, &ack));
  } while (ack == std::string("2A\0\0\0\0", 6));  // heartbeats
  EXPECT_EQ(ack, "2A" + u32(3));
  EXPECT_EQ(es_.Count(), 2u);
  std::vector<std::string> dlq = DeadLetters();
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_NE(dlq[0].find("\"reason\":\"invalid JSON"), std::string::npos) << dlq[0];
  EXPECT_NE(dlq[0].find(R"(\"message\": broken)"), std::string::npos) << dlq[0];
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// The real binary: SIGTERM stops accepting, delivers and ACKs what is in
// flight, and exits 0; every ACKed event is in the output.
TEST(SluiceProcessTest, SigtermDrainsAndExitsCleanly) {
  testing::TempDir dir;
  int port = testing::FreeTcpPort();
  testing::WriteFile(dir.File("sluice.yml"), StrCat("data_dir: ", dir.File("data"), R"(
http: {listen: ""}
inputs:
  - {type: beats, listen: "127.0.0.1:)", port, R"("}
outputs:
  - {type: file, path: )", dir.File("out.ndjson"), "}\n"));
  testing::Subprocess sluice({testing::BinaryDir() + "/sluice", "run", "--config", dir.File("sluice.yml")},
                             dir.File("sluice.log"));
  testing::TcpClient c;
  ASSERT_TRUE(WaitFor([&] { return c.Connect("127.0.0.1", port); })) << ReadFile(dir.File("sluice.log"));
  auto u32 = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
  };
  auto window = [&](int first, int n) {
    std::string w = "2W" + u32(n);
    for (int i = 0; i < n; ++i) {
      std::string ev = StrCat(R"({"message":"event )", first + i, R"("})");
      w += "2J" + u32(i + 1) + u32(ev.size()) + ev;
    }
    return w;
  };
  int acked = 0;
  auto read_ack = [&](int n) {
    std::string ack;
    do {
      if (!c.ReadExact(6, &ack, 10s)) return false;
    } while (ack == std::string("2A\0\0\0\0", 6));
    if (ack != "2A" + u32(n)) return false;
    acked += n;
    return true;
  };
  for (int w = 0; w < 3; ++w) {
    ASSERT_TRUE(c.WriteAll(window(w * 100, 100)));
    ASSERT_TRUE(read_ack(100));
  }
  ASSERT_TRUE(c.WriteAll(window(300, 100)));
  sluice.Kill(SIGTERM);
  read_ack(100);  // in flight: ACKed if it was read before the listener closed
  EXPECT_EQ(sluice.Wait(30s), 0) << ReadFile(dir.File("sluice.log"));
  EXPECT_GE(acked, 300);
  EXPECT_GE(static_cast<int>(ReadLines(dir.File("out.ndjson")).size()), acked);
  EXPECT_NE(ReadFile(dir.File("sluice.log")).find("stopped"), std::string::npos);
}

}  // namespace
}  // namespace sluice
