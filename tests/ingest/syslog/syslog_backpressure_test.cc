// A full pipeline: TCP connections stop reading (and resume without losing or
// duplicating anything); UDP datagrams the kernel drops meanwhile are counted
// as discarded (`udp_overflow`), so sent = indexed + discarded.

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "syslog_test_app.h"

namespace sluice::syslog {
namespace {

using namespace sluice::syslog::testing;
using sluice::testing::TcpClient;
using sluice::testing::WaitFor;

// A sink that blocks the pipeline worker while the gate is closed, and keeps
// the `message` of every event it lets through.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = true;
  int blocked = 0;
  std::vector<std::string> messages;

  void Set(bool o) {
    std::lock_guard<std::mutex> lock(mu);
    open = o;
    cv.notify_all();
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu);
    return messages.size();
  }
};
Gate gate;

class GateSink : public Sink {
 public:
  std::string_view name() const override { return "syslog_test_gate"; }
  absl::Status Start() override { return absl::OkStatus(); }
  void Submit(BatchPtr batch) override {
    std::unique_lock<std::mutex> lock(gate.mu);
    ++gate.blocked;
    gate.cv.wait(lock, [] { return gate.open; });
    --gate.blocked;
    for (const Event& e : batch->events()) gate.messages.push_back(Field(std::string(batch->Raw(e)), "message"));
    lock.unlock();
    batch->Release();
  }
  void Stop(int64_t) override { gate.Set(true); }
};
SLUICE_REGISTER_SINK("syslog_test_gate", [](ConfigMap& cfg, ComponentContext&) -> std::unique_ptr<Sink> {
  cfg.Finish();
  return std::make_unique<GateSink>();
});

const char kTop[] = "pipeline:\n  workers: 1\n  queue: {type: memory, max_bytes: 1MiB}\n";
const char kGateOutput[] = "  - type: syslog_test_gate\n";

TEST(SyslogBackpressure, TcpStopsReadingAndResumesWithoutLoss) {
  {
    std::lock_guard<std::mutex> lock(gate.mu);
    gate.messages.clear();
  }
  gate.Set(false);
  SyslogApp s("  - type: syslog\n    listen: 127.0.0.1:0\n", kTop, kGateOutput);
  ASSERT_TRUE(s.ok());
  const int n = 100000;  // ~25 MB: far more than the queue, a batch and the socket buffers hold
  std::string data;
  for (int i = 0; i < n; ++i) {
    std::string m = StrCat("<134>1 2026-11-21T05:31:00.438655+00:00 shop-api-7 orders 4242 ORD - order ", i,
                           " entered queue orders.created with a payload padding it to about 250 bytes ........"
                           "........................................................");
    data += i % 2 ? StrCat(m.size(), " ", m) : m + "\n";
  }
  std::atomic<bool> done{false};
  TcpClient c;
  ASSERT_TRUE(c.Connect("127.0.0.1", s.Port()));
  std::thread writer([&] {
    EXPECT_TRUE(c.WriteAll(data));
    done = true;
  });
  // The sink holds the worker, the queue fills, the input stops reading.
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(gate.mu);
    return gate.blocked == 1 && s.Metric("sluice_queue_bytes", {}) > 0;
  }));
  const double read_while_blocked = s.Metric("sluice_component_received_bytes_total", {{"component", "syslog"}});
  EXPECT_LT(read_while_blocked, data.size() / 2.0);
  EXPECT_FALSE(done.load());
  gate.Set(true);
  writer.join();
  ASSERT_TRUE(WaitFor([&] { return gate.count() >= static_cast<size_t>(n); }, std::chrono::seconds(60)));
  std::vector<int> seen(n, 0);
  {
    std::lock_guard<std::mutex> lock(gate.mu);
    EXPECT_EQ(gate.messages.size(), static_cast<size_t>(n));
    for (const auto& m : gate.messages) {
      int i = std::stoi(m.substr(6));
      ASSERT_TRUE(i >= 0 && i < n) << m;
      ++seen[i];
    }
  }
  for (int i = 0; i < n; ++i) ASSERT_EQ(seen[i], 1) << i;
}

// A graceful shutdown while the pipeline is full: the connection stops reading
// when the shutdown begins, and every message it read is delivered, in order
// (the pipeline drains only once the input holds nothing). Before, it read on
// during the drain and the batch the closed queue refused was lost.
TEST(SyslogBackpressure, TcpShutdownDeliversEverythingItRead) {
  {
    std::lock_guard<std::mutex> lock(gate.mu);
    gate.messages.clear();
  }
  gate.Set(false);
  SyslogApp s("  - type: syslog\n    listen: 127.0.0.1:0\n", StrCat(kTop, "shutdown_timeout: 30s\n"), kGateOutput);
  ASSERT_TRUE(s.ok());
  const int n = 100000;
  auto text = [](int i) {
    return StrCat("order ", i, " entered queue orders.created with a payload padding it to about 250 bytes ........",
                  "........................................................");
  };
  std::string data;
  for (int i = 0; i < n; ++i) {
    std::string m = StrCat("<134>1 2026-11-21T05:31:00.438655+00:00 shop-api-7 orders 4242 ORD - ", text(i));
    data += i % 2 ? StrCat(m.size(), " ", m) : m + "\n";
  }
  TcpClient c;
  ASSERT_TRUE(c.Connect("127.0.0.1", s.Port()));
  std::thread writer([&] { (void)c.WriteAll(data); });  // cut off by the shutdown
  auto bytes_read = [&] { return s.Metric("sluice_component_received_bytes_total", {{"component", "syslog"}}); };
  // The sink holds the worker, the queue fills, the input pauses with a batch
  // the queue refused: the bytes read stop growing.
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(gate.mu);
    return gate.blocked == 1 && s.Metric("sluice_queue_bytes", {}) > 0;
  }));
  double read = bytes_read();
  for (int still = 0; still < 5;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const double now = bytes_read();
    still = now == read ? still + 1 : 0;
    read = now;
  }
  std::thread shutdown([&] { s.app()->Shutdown(); });
  ASSERT_TRUE(WaitFor([&] {  // StopAccepting ran: the listener is closed
    TcpClient probe;
    return !probe.Connect("127.0.0.1", s.Port());
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  gate.Set(true);
  shutdown.join();
  c.Close();
  writer.join();
  EXPECT_EQ(bytes_read(), read);  // nothing read after the shutdown began
  const double received = s.Metric("sluice_component_received_events_total", {{"component", "syslog"}});
  std::lock_guard<std::mutex> lock(gate.mu);
  ASSERT_GT(gate.messages.size(), 0u);
  EXPECT_LT(gate.messages.size(), static_cast<size_t>(n));
  EXPECT_EQ(static_cast<double>(gate.messages.size()), received);
  // Every message read, once, in order (the last one may be a frame the
  // shutdown cut short, delivered as at any end of stream).
  for (size_t i = 0; i + 1 < gate.messages.size(); ++i) ASSERT_EQ(gate.messages[i], text(static_cast<int>(i))) << i;
}

TEST(SyslogBackpressure, UdpKernelDropsAreCounted) {
  {
    std::lock_guard<std::mutex> lock(gate.mu);
    gate.messages.clear();
  }
  gate.Set(false);
  SyslogApp s("  - type: syslog\n    listen: 127.0.0.1:0\n    protocol: udp\n    receive_buffer_bytes: 64KiB\n",
              kTop, kGateOutput);
  ASSERT_TRUE(s.ok());
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(SendUdp(s.Port(), StrCat("<134>Nov 21 05:31:00 vm app: datagram ", i, " padded to a realistic size "
                                         "..............................................................")));
  }
  gate.Set(true);
  auto dropped = [&] { return s.Metric("sluice_component_discarded_events_total", {{"reason", "udp_overflow"}}); };
  ASSERT_TRUE(WaitFor([&] { return gate.count() + dropped() == n; }, std::chrono::seconds(60)))
      << gate.count() << " indexed + " << dropped() << " dropped != " << n;
  EXPECT_GT(dropped(), 0);
  EXPECT_GT(gate.count(), 0u);
}

}  // namespace
}  // namespace sluice::syslog
