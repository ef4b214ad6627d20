// In-process tests of `type: beats`: an App with a beats input on 127.0.0.1:0,
// spoken to with raw Lumberjack frames over TcpClient (or TLS).

#include "ingest/beats/beats_input.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "common/strings.h"
#include "common/test_util.h"
#include "frames.h"
#include "pipeline/app.h"

namespace sluice::beats {
namespace {

using namespace std::chrono_literals;
using namespace sluice::beats::testing;
using sluice::testing::ReadLines;
using sluice::testing::TcpClient;
using sluice::testing::TempDir;
using sluice::testing::WaitFor;

// A sink the test controls: `hold` keeps batches (not safe, so not ACKed)
// until released; `block` makes Submit itself wait, which stalls the pipeline
// workers and fills the queue (backpressure).
class GateSink : public Sink {
 public:
  static GateSink* last;
  GateSink() { last = this; }
  std::string_view name() const override { return "gate"; }
  absl::Status Start() override { return absl::OkStatus(); }
  void Submit(BatchPtr batch) override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !block_; });
    for (const Event& e : batch->events()) {
      if (!(e.flags & kEventInvalid)) docs_.push_back(std::string(batch->DocHead(e)) + std::string(batch->DocTail(e)));
    }
    ++submitted_;
    if (hold_) {
      held_.push_back(std::move(batch));
      return;
    }
    lock.unlock();
    batch->Release();
  }
  void Stop(int64_t) override {}

  void SetHold(bool hold) {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = hold;
  }
  void SetBlock(bool block) {
    std::lock_guard<std::mutex> lock(mu_);
    block_ = block;
    cv_.notify_all();
  }
  // Releases held batch `i` (in arrival order).
  void Release(size_t i) {
    BatchPtr b;
    {
      std::lock_guard<std::mutex> lock(mu_);
      b = held_.at(i);
    }
    b->Release();
  }
  void ReleaseAll() {
    std::vector<BatchPtr> all;
    {
      std::lock_guard<std::mutex> lock(mu_);
      hold_ = false;
      all.swap(held_);
    }
    for (auto& b : all) b->Release();
  }
  size_t held() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_.size();
  }
  size_t submitted() {
    std::lock_guard<std::mutex> lock(mu_);
    return submitted_;
  }
  std::vector<std::string> docs() {
    std::lock_guard<std::mutex> lock(mu_);
    return docs_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false, block_ = false;
  size_t submitted_ = 0;
  std::vector<BatchPtr> held_;
  std::vector<std::string> docs_;
};
GateSink* GateSink::last = nullptr;

SLUICE_REGISTER_SINK("test_gate", [](ConfigMap& cfg, ComponentContext&) -> std::unique_ptr<Sink> {
  cfg.Finish();
  return std::make_unique<GateSink>();
});

// Reads one ACK frame; returns its seq, or -1 on timeout/EOF/not an ACK.
int64_t ReadAck(TcpClient& c, std::chrono::milliseconds timeout = 20s, char version = '2') {
  std::string f;
  if (!c.ReadExact(6, &f, timeout)) return -1;
  if (f[0] != version || f[1] != 'A') return -2;
  return (int64_t{static_cast<unsigned char>(f[2])} << 24) | (static_cast<unsigned char>(f[3]) << 16) |
         (static_cast<unsigned char>(f[4]) << 8) | static_cast<unsigned char>(f[5]);
}

// Reads ACKs, skipping heartbeats (ACK 0), until a non-zero one.
int64_t ReadDataAck(TcpClient& c, int* heartbeats = nullptr) {
  for (;;) {
    int64_t a = ReadAck(c);
    if (a != 0) return a;
    if (heartbeats) ++*heartbeats;
  }
}

// True if nothing arrives on the socket within `d` (a negative check: it has to wait).
bool Silent(TcpClient& c, std::chrono::milliseconds d) {
  pollfd p{c.fd(), POLLIN, 0};
  return poll(&p, 1, static_cast<int>(d.count())) == 0;
}

class BeatsInputTest : public ::testing::Test {
 protected:
  // Starts an App with one beats input (extra options appended to it) and the given output.
  void StartApp(const std::string& input_options = "", const std::string& output = "", const std::string& extra = "") {
    std::string out = output.empty() ? StrCat("{type: file, path: ", dir_.File("out.ndjson"), "}") : output;
    std::string yaml = StrCat("data_dir: ", dir_.path(), "\nhttp: {listen: \"\"}\n", extra,
                              "inputs:\n  - type: beats\n    id: lj\n    listen: 127.0.0.1:0\n", input_options,
                              "outputs:\n  - ", out, "\n");
    auto app = App::Load(yaml, "test.yml", false);
    ASSERT_TRUE(app.ok()) << app.status() << "\n" << yaml;
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    port_ = sluice::testing::PortOf(app_->inputs()[0]->bound_address());
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    if (GateSink::last) GateSink::last->SetBlock(false);
    if (app_) app_->Shutdown();
    app_.reset();
    GateSink::last = nullptr;
  }
  void Connect(TcpClient* c) { ASSERT_TRUE(c->Connect("127.0.0.1", port_)); }
  double Metric(std::string_view name, const Labels& labels = {{"component", "lj"}}) {
    return app_->metrics()->Sum(name, labels);
  }
  double Errors(const std::string& reason) {
    return Metric("sluice_component_errors_total", {{"component", "lj"}, {"reason", reason}});
  }
  std::vector<std::string> OutLines() { return ReadLines(dir_.File("out.ndjson")); }

  TempDir dir_;
  std::unique_ptr<App> app_;
  int port_ = 0;
};

TEST_F(BeatsInputTest, AcksWindowWithExactBytes) {
  StartApp();
  TcpClient c;
  Connect(&c);
  ASSERT_TRUE(c.WriteAll(JsonWindow({R"({"message":"a"})", R"({"message":"b"})"}, false)));
  std::string ack;
  ASSERT_TRUE(c.ReadExact(6, &ack));
  EXPECT_EQ(ack, std::string("2A\0\0\0\x02", 6));
  EXPECT_EQ(OutLines(), (std::vector<std::string>{R"({"message":"a"})", R"({"message":"b"})"}));
  EXPECT_EQ(Metric("sluice_component_received_events_total"), 2);
  EXPECT_GT(Metric("sluice_component_received_bytes_total"), 30);
  EXPECT_EQ(Metric("sluice_open_connections"), 1);
  EXPECT_TRUE(WaitFor([&] {
    return app_->metrics()->RenderPrometheus().find("sluice_beats_ack_latency_seconds_count{component=\"lj\"} 1") !=
           std::string::npos;
  }));
  c.Close();
  EXPECT_TRUE(WaitFor([&] { return Metric("sluice_open_connections") == 0; }));
}

TEST_F(BeatsInputTest, CompressedWindowLikeFilebeat) {
  StartApp();
  TcpClient c;
  Connect(&c);
  std::vector<std::string> events;
  for (int i = 0; i < 2048; ++i) events.push_back(StrCat(R"({"message":"line )", i, R"(","log":{"offset":)", i, "}}"));
  ASSERT_TRUE(c.WriteAll(JsonWindow(events, true)));
  EXPECT_EQ(ReadDataAck(c), 2048);
  EXPECT_EQ(OutLines(), events);
}

TEST_F(BeatsInputTest, PipelinedWindowsAckedInOrderEvenWhenCompletedOutOfOrder) {
  // One worker, so the gate holds the windows in arrival order (held(i) = window i+1).
  StartApp("", "{type: test_gate}", "pipeline: {workers: 1}\n");
  GateSink::last->SetHold(true);
  TcpClient c;
  Connect(&c);
  std::string s = JsonWindow({"{\"w\":1}"}, false) + JsonWindow({"{\"w\":2}", "{\"w\":2}"}, true) + Window(0) +
                  JsonWindow({"{\"w\":3}", "{\"w\":3}", "{\"w\":3}"}, false);
  ASSERT_TRUE(c.WriteAll(s));
  ASSERT_TRUE(WaitFor([&] { return GateSink::last->held() == 3; }));
  // The later windows are safe first: nothing may be ACKed before window 1.
  GateSink::last->Release(2);
  GateSink::last->Release(1);
  EXPECT_TRUE(Silent(c, 300ms));
  GateSink::last->Release(0);
  EXPECT_EQ(ReadAck(c), 1);
  EXPECT_EQ(ReadAck(c), 2);
  EXPECT_EQ(ReadAck(c), 0);  // the empty window, in its turn
  EXPECT_EQ(ReadAck(c), 3);
}

TEST_F(BeatsInputTest, EmptyWindowAloneGetsAckZero) {
  StartApp();
  TcpClient c;
  Connect(&c);
  ASSERT_TRUE(c.WriteAll(Window(0)));
  EXPECT_EQ(ReadAck(c), 0);
}

TEST_F(BeatsInputTest, V1WindowGetsV1Ack) {
  StartApp();
  TcpClient c;
  Connect(&c);
  ASSERT_TRUE(c.WriteAll(Window(1, '1') + Data(1, {{"line", "hello"}, {"host", "h"}})));
  EXPECT_EQ(ReadAck(c, 20s, '1'), 1);
  EXPECT_EQ(OutLines(), (std::vector<std::string>{R"({"line":"hello","host":"h"})"}));
}

TEST_F(BeatsInputTest, NewWindowBeforePreviousCompletedIsAckedWithWhatArrived) {
  StartApp();
  TcpClient c;
  Connect(&c);
  ASSERT_TRUE(c.WriteAll(Window(3) + Json(1, "{\"a\":1}") + Json(2, "{\"a\":2}") + JsonWindow({"{\"b\":1}"}, false)));
  EXPECT_EQ(ReadAck(c), 2);
  EXPECT_EQ(ReadAck(c), 1);
  EXPECT_EQ(Errors("incomplete_window"), 1);
  EXPECT_EQ(OutLines().size(), 3u);
}

TEST_F(BeatsInputTest, HeartbeatWhileSinkHoldsTheWindow) {
  StartApp("    keepalive_interval: 50ms\n    idle_timeout: 100ms\n", "{type: test_gate}");
  GateSink::last->SetHold(true);
  TcpClient c;
  Connect(&c);
  ASSERT_TRUE(c.WriteAll(JsonWindow({"{}", "{}"}, false)));
  // Several heartbeats, and the idle timeout does not close a connection with a window pending.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(ReadAck(c, 5s), 0) << i;
  GateSink::last->ReleaseAll();
  EXPECT_EQ(ReadDataAck(c), 2);
  EXPECT_GE(Metric("sluice_beats_heartbeats_total"), 5);
}

TEST_F(BeatsInputTest, BackpressureStopsReadingAndHeartbeatsContinue) {
  StartApp("    keepalive_interval: 50ms\n", "{type: test_gate}",
           "pipeline: {workers: 1, queue: {max_bytes: 1MiB}}\n");
  GateSink::last->SetBlock(true);
  TcpClient c;
  Connect(&c);
  // 200 windows of 2 events of 50 KiB: 20 MiB, far more than the queue, the
  // worker and the socket buffers hold.
  const int kWindows = 200;
  std::string payload = StrCat(R"({"message":")", std::string(50 << 10, 'x'), R"("})");
  std::string stream;
  for (int i = 0; i < kWindows; ++i) stream += JsonWindow({payload, payload}, i % 2 == 0);
  std::atomic<bool> written{false};
  std::thread writer([&] { written = c.WriteAll(stream); });
  // Blocked: the pipeline is full, the connection stopped reading, heartbeats still come.
  int heartbeats = 0;
  for (; heartbeats < 3; ++heartbeats) ASSERT_EQ(ReadAck(c, 5s), 0);
  double received = Metric("sluice_component_received_events_total");
  EXPECT_LT(received, 2 * kWindows);
  EXPECT_FALSE(written.load());
  for (int i = 0; i < 3; ++i) ASSERT_EQ(ReadAck(c, 5s), 0);
  EXPECT_EQ(Metric("sluice_component_received_events_total"), received);  // still not reading
  GateSink::last->SetBlock(false);
  for (int w = 0; w < kWindows; ++w) ASSERT_EQ(ReadDataAck(c, &heartbeats), 2) << "window " << w;
  writer.join();
  EXPECT_TRUE(written.load());
  EXPECT_EQ(GateSink::last->docs().size(), 2u * kWindows);
}

TEST_F(BeatsInputTest, MalformedStreamClosesOnlyThatConnection) {
  StartApp();
  TcpClient good, bad, bad2, bad3;
  Connect(&good);
  Connect(&bad);
  Connect(&bad2);
  Connect(&bad3);
  ASSERT_TRUE(good.WriteAll(JsonWindow({"{\"n\":1}"}, false)));
  EXPECT_EQ(ReadAck(good), 1);
  ASSERT_TRUE(bad.WriteAll(Window(1) + "2X" + U32(7)));
  EXPECT_TRUE(bad.WaitClosed());
  ASSERT_TRUE(bad2.WriteAll(Window(1) + CompressedRaw("definitely not zlib")));
  EXPECT_TRUE(bad2.WaitClosed());
  ASSERT_TRUE(bad3.WriteAll(Json(1, "{}")));
  EXPECT_TRUE(bad3.WaitClosed());
  EXPECT_EQ(Errors("unknown_frame_type"), 1);
  EXPECT_EQ(Errors("corrupt_zlib"), 1);
  EXPECT_EQ(Errors("frame_outside_window"), 1);
  ASSERT_TRUE(good.WriteAll(JsonWindow({"{\"n\":2}", "{\"n\":3}"}, true)));
  EXPECT_EQ(ReadAck(good), 2);
  EXPECT_EQ(OutLines().size(), 3u);
  EXPECT_TRUE(WaitFor([&] { return Metric("sluice_open_connections") == 1; }));
}

TEST_F(BeatsInputTest, OversizedFrameClosesConnection) {
  StartApp("    max_frame_bytes: 1KiB\n    max_window_size: 10\n");
  TcpClient a, b;
  Connect(&a);
  Connect(&b);
  ASSERT_TRUE(a.WriteAll(Window(1) + "2J" + U32(1) + U32(2000)));
  EXPECT_TRUE(a.WaitClosed());
  ASSERT_TRUE(b.WriteAll(Window(11)));
  EXPECT_TRUE(b.WaitClosed());
  EXPECT_EQ(Errors("frame_too_large"), 1);
  EXPECT_EQ(Errors("window_too_large"), 1);
}

TEST_F(BeatsInputTest, InvalidJsonIsAckedAndDeadLettered) {
  StartApp();
  TcpClient c;
  Connect(&c);
  ASSERT_TRUE(c.WriteAll(JsonWindow({R"({"ok":true})", "this is not json", "[1,2]"}, true)));
  EXPECT_EQ(ReadAck(c), 3);
  EXPECT_EQ(OutLines(), (std::vector<std::string>{R"({"ok":true})"}));
  std::string dlq;
  for (const auto& f : std::filesystem::directory_iterator(dir_.File("dlq"))) {
    if (f.path().extension() == ".ndjson") dlq += sluice::testing::ReadFile(f.path());
  }
  EXPECT_NE(dlq.find(R"("original":"this is not json")"), std::string::npos) << dlq;
  EXPECT_NE(dlq.find(R"("original":"[1,2]")"), std::string::npos) << dlq;
  EXPECT_NE(dlq.find(R"("component":"lj")"), std::string::npos) << dlq;
  EXPECT_NE(dlq.find(R"("reason":")"), std::string::npos) << dlq;
  EXPECT_NE(dlq.find(R"("peer":"127.0.0.1:)"), std::string::npos) << dlq;
}

TEST_F(BeatsInputTest, MaxConnections) {
  StartApp("    max_connections: 2\n");
  TcpClient a, b, c, d;
  Connect(&a);
  Connect(&b);
  ASSERT_TRUE(WaitFor([&] { return Metric("sluice_open_connections") == 2; }));
  Connect(&c);  // the kernel accepts it; the server closes it at once
  EXPECT_TRUE(c.WaitClosed());
  EXPECT_EQ(Errors("connection_limit"), 1);
  // The first two still work.
  ASSERT_TRUE(b.WriteAll(JsonWindow({"{}"}, false)));
  EXPECT_EQ(ReadAck(b), 1);
  a.Close();
  ASSERT_TRUE(WaitFor([&] { return Metric("sluice_open_connections") == 1; }));
  Connect(&d);
  ASSERT_TRUE(d.WriteAll(JsonWindow({"{}"}, false)));
  EXPECT_EQ(ReadAck(d), 1);
}

TEST_F(BeatsInputTest, IdleTimeoutClosesQuietConnections) {
  StartApp("    idle_timeout: 200ms\n");
  TcpClient quiet, busy;
  Connect(&quiet);
  Connect(&busy);
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(quiet.WaitClosed(10s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
  // A connection that keeps sending stays open; once it stops, it is closed too.
  TcpClient active;
  Connect(&active);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(active.WriteAll(JsonWindow({"{}"}, false)));
    ASSERT_EQ(ReadAck(active), 1);
    std::this_thread::sleep_for(100ms);  // activity pattern under test, not a wait for a condition
  }
  EXPECT_TRUE(active.WaitClosed(10s));
  EXPECT_TRUE(busy.WaitClosed(10s));
}

TEST_F(BeatsInputTest, StopClosesConnectionsWithoutAckingPendingWindows) {
  StartApp("", "{type: test_gate}");
  GateSink::last->SetHold(true);
  TcpClient c;
  Connect(&c);
  ASSERT_TRUE(c.WriteAll(JsonWindow({"{}"}, false)));
  ASSERT_TRUE(WaitFor([&] { return GateSink::last->held() == 1; }));
  app_->inputs()[0]->StopAccepting();
  TcpClient refused;
  EXPECT_FALSE(refused.Connect("127.0.0.1", port_));
  app_->inputs()[0]->Stop();
  // Closed, and whatever came before the close is only heartbeats, never ACK 1.
  EXPECT_TRUE(c.WaitClosed(5s));
  GateSink::last->ReleaseAll();  // safe after the input stopped: must not crash
}

// Shutdown under backpressure: the connection stops reading, the window it
// holds goes into the queue before the pipeline drains, and every window it
// read is delivered and ACKed before the connection closes. A window read but
// not ACKed would come again after a restart and the detectors (which see a
// window when it is read) would count it twice.
TEST_F(BeatsInputTest, ShutdownDeliversAndAcksEveryWindowItRead) {
  StartApp("    keepalive_interval: 50ms\n", "{type: test_gate}",
           "pipeline: {workers: 1, queue: {max_bytes: 1MiB}}\n");
  GateSink::last->SetBlock(true);
  TcpClient c;
  Connect(&c);
  const int kWindows = 200;  // 20 MiB: far more than the queue, the worker and the socket buffers hold
  std::string payload = StrCat(R"({"message":")", std::string(50 << 10, 'x'), R"("})");
  std::string stream;
  for (int i = 0; i < kWindows; ++i) stream += JsonWindow({payload, payload}, i % 2 == 0);
  std::thread writer([&] { (void)c.WriteAll(stream); });
  for (int heartbeats = 0; heartbeats < 2; ++heartbeats) ASSERT_EQ(ReadAck(c, 5s), 0);  // blocked
  std::thread shutdown([&] { app_->Shutdown(); });
  // The shutdown has begun (the listener is closed: StopAccepting) and waits
  // for the window the connection holds; then the output is unblocked.
  ASSERT_TRUE(WaitFor([&] {
    TcpClient probe;
    return !probe.Connect("127.0.0.1", port_);
  }));
  const double received = Metric("sluice_component_received_events_total");
  GateSink::last->SetBlock(false);
  int acked = 0;
  for (;;) {
    const int64_t a = ReadAck(c, 10s);
    if (a < 0) break;  // closed
    if (a > 0) acked += static_cast<int>(a);
  }
  shutdown.join();
  c.Close();
  writer.join();
  EXPECT_GT(received, 0);
  EXPECT_LT(received, 2 * kWindows);
  // Nothing read after the shutdown began, and everything read delivered and ACKed.
  EXPECT_EQ(Metric("sluice_component_received_events_total"), received);
  EXPECT_EQ(static_cast<double>(GateSink::last->docs().size()), received);
  EXPECT_EQ(acked, received);
}

// --- real encoder -----------------------------------------------------------

// Runs tests/peers/lumberjack_send.js (npm lumberjack-client) against the
// input and checks every window was ACKed and every event stored byte-equal.
void RunLumberjackClient(int port, const TempDir& dir, int count, int batch, bool tls, const std::string& ca = "") {
  std::string script = sluice::testing::SourceDir() + "/tests/peers/lumberjack_send.js";
  std::string expected = dir.File(tls ? "expected_tls.ndjson" : "expected.ndjson");
  std::string log = dir.File("node.log");
  std::vector<std::string> argv = {"node", script, "127.0.0.1", std::to_string(port), std::to_string(count),
                                   std::to_string(batch), tls ? "1" : "0", expected};
  if (!ca.empty()) argv.push_back(ca);
  sluice::testing::Subprocess node(argv, log);
  ASSERT_TRUE(node.ok());
  int rc = node.Wait(90s);
  std::string out = sluice::testing::ReadFile(log);
  ASSERT_EQ(rc, 0) << out;
  int windows = (count + batch - 1) / batch;
  EXPECT_NE(out.find(StrCat("sent ", count, " events in ", windows, " windows, acked ", windows)), std::string::npos)
      << out;
}

TEST_F(BeatsInputTest, RealLumberjackClientPipelinedCompressedWindows) {
  StartApp();
  const int kCount = 10000, kBatch = 512;
  RunLumberjackClient(port_, dir_, kCount, kBatch, false);
  std::vector<std::string> want = ReadLines(dir_.File("expected.ndjson"));
  ASSERT_EQ(want.size(), static_cast<size_t>(kCount));
  std::vector<std::string> got = OutLines();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << "event " << i;
  EXPECT_EQ(Metric("sluice_component_received_events_total"), kCount);
  EXPECT_EQ(Metric("sluice_component_errors_total"), 0);
}

// End-to-end throughput (TCP -> decoder -> pipeline parse -> file output), in
// CPU seconds of this process (client included). Not a regression test: run
// with --gtest_also_run_disabled_tests --gtest_filter=*Throughput*.
TEST_F(BeatsInputTest, DISABLED_Throughput) {
  for (bool compress : {false, true}) {
    StartApp("", "", "pipeline: {workers: 1}\n");
    std::vector<std::string> events;
    for (int i = 0; i < 2048; ++i) {
      events.push_back(StrCat(
          R"({"@timestamp":"2026-11-21T05:30:00.000Z","@metadata":{"beat":"filebeat","type":"_doc","version":"8.15.0"},)",
          R"("message":"2026-11-21 05:30:00,123 INFO [mes] calculation stage )", i,
          R"( finished for order 4711","log":{"file":{"path":"/var/log/mes/calc.log"},"offset":)", i * 97,
          R"(},"host":{"name":"mes-01"}})"));
    }
    std::string window = JsonWindow(events, compress);
    const int kWindows = 500;
    TcpClient c;
    Connect(&c);
    rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    auto t0 = std::chrono::steady_clock::now();
    std::thread writer([&] {
      for (int i = 0; i < kWindows; ++i) c.WriteAll(window);
    });
    for (int i = 0; i < kWindows; ++i) ASSERT_EQ(ReadDataAck(c), 2048);
    writer.join();
    getrusage(RUSAGE_SELF, &r1);
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto secs = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
    double cpu = secs(r1.ru_utime) - secs(r0.ru_utime) + secs(r1.ru_stime) - secs(r0.ru_stime);
    double n = 2048.0 * kWindows;
    std::printf("%s: %.0f events, %.0f events/CPU-s, %.0f events/s wall\n", compress ? "zlib" : "plain", n, n / cpu,
                n / wall);
    c.Close();
    app_->Shutdown();
    app_.reset();
    std::filesystem::remove(dir_.File("out.ndjson"));
  }
}

// --- TLS --------------------------------------------------------------------

// A CA, a server certificate for localhost/127.0.0.1, a client certificate
// from that CA and one from another CA, made with the openssl CLI.
struct TestPki {
  explicit TestPki(const TempDir& dir) : d(dir) {
    auto run = [&](const std::vector<std::string>& argv) {
      std::string out;
      int rc = sluice::testing::RunCommand(argv, &out);
      EXPECT_EQ(rc, 0) << StrJoin(argv, " ") << "\n" << out;
    };
    auto ca = [&](const std::string& name) {
      run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", d.File(name + ".key"), "-out", d.File(name + ".pem"), "-days", "2", "-subj",
           "/CN=" + name});
    };
    auto leaf = [&](const std::string& name, const std::string& signer, const std::string& ext) {
      sluice::testing::WriteFile(d.File(name + ".ext"), ext + "\n");
      run({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
           d.File(name + ".key"), "-out", d.File(name + ".csr"), "-subj", "/CN=" + name});
      run({"openssl", "x509", "-req", "-in", d.File(name + ".csr"), "-CA", d.File(signer + ".pem"), "-CAkey",
           d.File(signer + ".key"), "-CAcreateserial", "-out", d.File(name + ".pem"), "-days", "2", "-extfile",
           d.File(name + ".ext")});
    };
    ca("ca");
    ca("other-ca");
    leaf("server", "ca", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth");
    leaf("client", "ca", "extendedKeyUsage=clientAuth");
    leaf("stranger", "other-ca", "extendedKeyUsage=clientAuth");
  }
  std::string File(const std::string& name) const { return d.File(name); }
  const TempDir& d;
};

// A TLS client on Asio, every step bounded in time.
class TlsClient {
 public:
  // `cert` empty: no client certificate.
  bool Connect(int port, const std::string& ca, const std::string& cert = "", const std::string& key = "") {
    namespace ssl = boost::asio::ssl;
    ctx_.load_verify_file(ca);
    ctx_.set_verify_mode(ssl::verify_peer);
    if (!cert.empty()) {
      ctx_.use_certificate_chain_file(cert);
      ctx_.use_private_key_file(key, ssl::context::pem);
    }
    stream_ = std::make_unique<ssl::stream<boost::asio::ip::tcp::socket>>(io_, ctx_);
    SSL_set_tlsext_host_name(stream_->native_handle(), "localhost");
    stream_->set_verify_callback(ssl::host_name_verification("localhost"));
    boost::system::error_code ec;
    stream_->lowest_layer().connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)},
                                    ec);
    if (ec) return false;
    stream_->async_handshake(ssl::stream_base::client, [&](const boost::system::error_code& e) { ec = e; });
    return Run() && !ec;
  }
  bool Write(const std::string& data) {
    boost::system::error_code ec;
    boost::asio::async_write(*stream_, boost::asio::buffer(data),
                             [&](const boost::system::error_code& e, size_t) { ec = e; });
    return Run() && !ec;
  }
  // The next ACK's seq, or -1 on error/close/timeout.
  int64_t ReadAck() {
    char f[6];
    boost::system::error_code ec;
    boost::asio::async_read(*stream_, boost::asio::buffer(f), [&](const boost::system::error_code& e, size_t) { ec = e; });
    if (!Run() || ec || f[0] != '2' || f[1] != 'A') return -1;
    return (int64_t{static_cast<unsigned char>(f[2])} << 24) | (static_cast<unsigned char>(f[3]) << 16) |
           (static_cast<unsigned char>(f[4]) << 8) | static_cast<unsigned char>(f[5]);
  }

 private:
  bool Run() {
    io_.restart();
    io_.run_for(10s);
    return io_.stopped();
  }
  boost::asio::io_context io_;
  boost::asio::ssl::context ctx_{boost::asio::ssl::context::tls_client};
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> stream_;
};

class BeatsTlsTest : public BeatsInputTest {
 protected:
  void StartTls(const std::string& client_auth) {
    pki_ = std::make_unique<TestPki>(dir_);
    StartApp(StrCat("    tls:\n      certificate: ", pki_->File("server.pem"), "\n      key: ", pki_->File("server.key"),
                    "\n      client_ca: ", pki_->File("ca.pem"), "\n      client_auth: ", client_auth, "\n"));
  }
  // Sends one window over a new TLS connection; true if it was ACKed.
  bool SendWindow(const std::string& cert_name) {
    TlsClient c;
    std::string cert = cert_name.empty() ? "" : pki_->File(cert_name + ".pem");
    std::string key = cert_name.empty() ? "" : pki_->File(cert_name + ".key");
    if (!c.Connect(port_, pki_->File("ca.pem"), cert, key)) return false;
    if (!c.Write(JsonWindow({R"({"tls":true})", R"({"tls":2})"}, true))) return false;
    return c.ReadAck() == 2;
  }
  std::unique_ptr<TestPki> pki_;
};

TEST_F(BeatsTlsTest, RequiredClientAuth) {
  StartTls("required");
  EXPECT_TRUE(SendWindow("client"));
  EXPECT_FALSE(SendWindow(""));
  EXPECT_FALSE(SendWindow("stranger"));
  EXPECT_EQ(OutLines().size(), 2u);
  // The client can see the failed handshake before the server has counted it.
  EXPECT_TRUE(WaitFor([&] { return Errors("tls_handshake") >= 2; })) << Errors("tls_handshake");
  // Plain TCP on a TLS port: the handshake fails, the connection is closed.
  TcpClient plain;
  Connect(&plain);
  ASSERT_TRUE(plain.WriteAll(JsonWindow({"{}"}, false)));
  EXPECT_TRUE(plain.WaitClosed());
}

TEST_F(BeatsTlsTest, OptionalClientAuth) {
  StartTls("optional");
  EXPECT_TRUE(SendWindow("client"));
  EXPECT_TRUE(SendWindow(""));
  EXPECT_FALSE(SendWindow("stranger"));  // a certificate that is presented must verify
  EXPECT_EQ(OutLines().size(), 4u);
}

TEST_F(BeatsTlsTest, RealLumberjackClientOverTls) {
  StartTls("none");
  RunLumberjackClient(port_, dir_, 3000, 1000, true, pki_->File("ca.pem"));
  EXPECT_EQ(OutLines(), ReadLines(dir_.File("expected_tls.ndjson")));
}

// --- config -----------------------------------------------------------------

std::string ConfigErrors(const std::string& input) {
  std::string yaml = StrCat("inputs:\n  - type: beats\n", input, "outputs:\n  - {type: file, path: /tmp/x}\n");
  auto app = App::Load(yaml, "cfg.yml", true);
  return app.ok() ? "" : std::string(MessageOf(app.status().message()));
}

TEST(BeatsConfigTest, ValidConfigs) {
  EXPECT_EQ(ConfigErrors("    listen: 0.0.0.0:5044\n"), "");
  EXPECT_EQ(ConfigErrors("    listen: \"[::1]:5044\"\n    id: edge\n    threads: 2\n    max_window_size: 2048\n"
                         "    max_frame_bytes: 16MiB\n    max_inflated_bytes: 64MiB\n    max_window_bytes: 128MiB\n"
                         "    max_connections: 10\n    idle_timeout: 0\n    keepalive_interval: 5s\n"),
            "");
}

TEST(BeatsConfigTest, CheckDoesNotBind) {
  // Check mode on a port that is taken: fine, because nothing binds.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  EXPECT_EQ(ConfigErrors(StrCat("    listen: 127.0.0.1:", ntohs(a.sin_port), "\n")), "");
  close(fd);
}

TEST(BeatsConfigTest, Errors) {
  EXPECT_NE(ConfigErrors("    id: x\n").find("cfg.yml:2: inputs[0].listen: required key is missing"), std::string::npos)
      << ConfigErrors("    id: x\n");
  std::string e = ConfigErrors("    listen: nonsense\n");
  EXPECT_NE(e.find("cfg.yml:3: inputs[0].listen"), std::string::npos) << e;
  e = ConfigErrors("    listen: somehost:5044\n");
  EXPECT_NE(e.find("is not an IP address"), std::string::npos) << e;
  e = ConfigErrors("    listen: 127.0.0.1:5044\n    max_windw_size: 5\n");
  EXPECT_NE(e.find("cfg.yml:4: unknown key \"inputs[0].max_windw_size\""), std::string::npos) << e;
  e = ConfigErrors("    listen: 127.0.0.1:5044\n    max_window_bytes: 8GiB\n");
  EXPECT_NE(e.find("cfg.yml:4: inputs[0].max_window_bytes: must be at most 3GiB"), std::string::npos) << e;
  e = ConfigErrors("    listen: 127.0.0.1:5044\n    threads: 0\n");
  EXPECT_NE(e.find("cfg.yml:4: inputs[0].threads"), std::string::npos) << e;
  e = ConfigErrors(
      "    listen: 127.0.0.1:5044\n    tls:\n      certificate: /nonexistent/cert.pem\n      key: /nonexistent/key.pem\n"
      "      client_auth: required\n");
  EXPECT_NE(e.find("cfg.yml:5: inputs[0].tls.certificate: file \"/nonexistent/cert.pem\" does not exist"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("cfg.yml:6: inputs[0].tls.key: file"), std::string::npos) << e;
  EXPECT_NE(e.find("cfg.yml:7: inputs[0].tls.client_auth: \"required\" needs client_ca"), std::string::npos)
      << e;
  e = ConfigErrors("    listen: 127.0.0.1:5044\n    tls: {certificate: /etc/hostname, key: /etc/hostname}\n");
  EXPECT_NE(e.find("cfg.yml:4: inputs[0].tls: certificate \"/etc/hostname\""), std::string::npos) << e;
}

}  // namespace
}  // namespace sluice::beats
