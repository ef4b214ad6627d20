// The persisted queue end to end, with a real `sluice run` child process: a
// Lumberjack client in the test (frames from tests/ingest/beats/frames.h,
// ACKs read back), the Elasticsearch emulator in-process.
//
// - kill -9 at random moments, restart, resend what was not ACKed (like
//   Filebeat): every ACKed event ends in Elasticsearch, and deterministic
//   document ids leave no duplicate.
// - Elasticsearch stalled for a long stretch: windows are still ACKed (from the
//   disk), the queue grows on disk while the RSS of sluice stays flat, and
//   everything drains once Elasticsearch answers again.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "common/es_emulator.h"
#include "common/strings.h"
#include "common/test_util.h"
#include "common/timeutil.h"
#include "ingest/beats/frames.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using testing::ReadFile;
using testing::WaitFor;

// One Lumberjack v2 connection; one window in flight at a time.
class BeatsSender {
 public:
  bool Connect(int port) { return client_.Connect("127.0.0.1", port); }
  // Sends a window and waits for its full ACK (heartbeat ACKs are skipped).
  // False if the connection broke or `timeout` passed.
  bool SendWindow(const std::vector<std::string>& events, std::chrono::milliseconds timeout) {
    return client_.WriteAll(beats::testing::JsonWindow(events, /*compress=*/true)) && WaitAck(events.size(), timeout);
  }
  // Waits for the ACK of a window of `n` events.
  bool WaitAck(size_t n, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      std::string ack;
      if (!client_.ReadExact(6, &ack, left)) return false;
      if (ack[0] != '2' || ack[1] != 'A') return false;
      const auto* p = reinterpret_cast<const unsigned char*>(ack.data() + 2);
      const uint32_t seq = (uint32_t{p[0]} << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
      if (seq == n) return true;
    }
  }

 private:
  testing::TcpClient client_;
};

// A Filebeat-like event: agent.id + log.file.path + log.offset identify it.
std::string Event(uint64_t n, size_t pad = 0) {
  return StrCat("{\"@timestamp\":\"2026-11-21T10:00:00.000Z\",\"message\":\"event ", n, " ", std::string(pad, 'p'),
                "\",\"n\":", n, ",\"agent\":{\"id\":\"3f0c7f0e-agent\"},\"log\":{\"offset\":", n * 100,
                ",\"file\":{\"path\":\"/var/log/app/calc.log\"}}}");
}

std::vector<std::string> Window(uint64_t first, size_t count, size_t pad = 0) {
  std::vector<std::string> w;
  for (size_t i = 0; i < count; ++i) w.push_back(Event(first + i, pad));
  return w;
}

uint64_t NumberOf(const std::string& doc) {
  size_t at = doc.find("\"n\":");
  return at == std::string::npos ? UINT64_MAX : std::strtoull(doc.c_str() + at + 4, nullptr, 10);
}

int64_t RssKiB(pid_t pid) {
  std::ifstream in(StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoll(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

// The value of a metric line `name{...labels...} value` containing `match`.
double Scrape(const std::string& admin, const std::string& name, const std::string& match) {
  std::string body;
  if (testing::HttpRequest(admin, "GET", "/metrics", &body) != 200) return -1;
  size_t pos = 0;
  while ((pos = body.find(name, pos)) != std::string::npos) {
    const bool line_start = pos == 0 || body[pos - 1] == '\n';  // not the # HELP / # TYPE lines
    size_t eol = body.find('\n', pos);
    std::string line = body.substr(pos, eol - pos);
    pos = eol;
    if (!line_start) continue;
    if (line.size() > name.size() && (line[name.size()] == '{' || line[name.size()] == ' ') &&
        line.find(match) != std::string::npos) {
      return std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
    }
  }
  return -1;
}

class PersistedQueueE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(es_.Start().ok()); }

  std::string WriteConfig(const std::string& queue, const std::string& es_extra = "", std::string data_dir = "") {
    if (data_dir.empty()) data_dir = dir_.File("data");
    beats_port_ = testing::FreeTcpPort();
    admin_ = StrCat("127.0.0.1:", testing::FreeTcpPort());
    std::string path = dir_.File("sluice.yml");
    testing::WriteFile(path, StrCat("data_dir: ", data_dir, "\n",
                                    "shutdown_timeout: 2s\n",
                                    "http: {listen: \"", admin_, "\"}\n",
                                    "pipeline:\n  workers: 2\n  queue: ", queue, "\n",
                                    "inputs:\n  - {type: beats, keepalive_interval: 200ms, listen: \"127.0.0.1:",
                                    beats_port_, "\"}\n",
                                    "outputs:\n  - type: elasticsearch\n    hosts: [\"", es_.url(), "\"]\n",
                                    "    index: test\n    flush_interval: 20ms\n    retry_initial_interval: 20ms\n",
                                    "    retry_max_interval: 200ms\n", es_extra));
    return path;
  }

  static std::string SluiceBinary() {
    return testing::BinaryDir() + "/sluice";
  }

  std::unique_ptr<testing::Subprocess> StartSluice(const std::string& config) {
    return std::make_unique<testing::Subprocess>(
        std::vector<std::string>{SluiceBinary(), "run", "--config", config},
        dir_.File("sluice.log"));
  }

  std::string LogTail() {
    std::string log = ReadFile(dir_.File("sluice.log"));
    return log.size() > 3000 ? log.substr(log.size() - 3000) : log;
  }

  testing::TempDir dir_;
  testing::EsEmulator es_;
  int beats_port_ = 0;
  std::string admin_;
};

TEST_F(PersistedQueueE2eTest, KillNineAtRandomMomentsLosesNoAckedEventAndDuplicatesNone) {
  const std::string config = WriteConfig("{type: persisted, max_bytes: 256MiB, segment_bytes: 1MiB}");
  const unsigned seed = static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::mt19937 rng(seed);
  SCOPED_TRACE(StrCat("seed ", seed));
  const int kKills = 24;
  const size_t kWindow = 200;
  uint64_t next_event = 0;
  std::vector<std::string> unacked;  // resent after the restart, like Filebeat
  std::set<uint64_t> acked;
  int kills = 0;
  const auto test_deadline = std::chrono::steady_clock::now() + 60s;
  for (int round = 0; round <= kKills && std::chrono::steady_clock::now() < test_deadline; ++round) {
    auto sluice = StartSluice(config);
    ASSERT_TRUE(sluice->ok());
    BeatsSender client;
    ASSERT_TRUE(WaitFor([&] { return client.Connect(beats_port_); }, 10s)) << LogTail();
    const bool last = round == kKills;
    std::thread killer;
    if (!last) {
      // The fault: kill -9 after a random delay, whatever sluice is doing then
      // (appending, syncing, committing, sending a bulk request).
      const auto kill_after = std::chrono::milliseconds(std::uniform_int_distribution<int>(30, 400)(rng));
      killer = std::thread([&sluice, kill_after] {
        std::this_thread::sleep_for(kill_after);
        sluice->Kill(SIGKILL);
      });
    }
    for (int sent = 0; last ? sent < 20 : true; ++sent) {
      if (unacked.empty()) {
        unacked = Window(next_event, kWindow);
        next_event += kWindow;
      }
      if (!client.SendWindow(unacked, 10s)) break;
      for (const auto& e : unacked) acked.insert(NumberOf(e));
      unacked.clear();
    }
    if (killer.joinable()) {
      killer.join();
      EXPECT_EQ(sluice->Wait(10s), -SIGKILL);
      ++kills;
    } else {
      ASSERT_TRUE(unacked.empty()) << "the last run must ACK everything: " << LogTail();
      // Everything ACKed reaches Elasticsearch (replays included), then a clean stop.
      ASSERT_TRUE(WaitFor([&] { return es_.Count() >= acked.size(); }, 30s))
          << es_.Count() << " of " << acked.size() << "\n" << LogTail();
      ASSERT_TRUE(WaitFor([&] { return Scrape(admin_, "sluice_queue_records", "persisted") == 0; }, 10s));
      sluice->Kill(SIGTERM);
      EXPECT_EQ(sluice->Wait(20s), 0) << LogTail();
    }
  }
  EXPECT_GE(kills, 20);
  ASSERT_EQ(acked.size(), next_event);  // every window was eventually ACKed
  std::set<uint64_t> indexed;
  size_t docs = 0;
  for (const auto& d : es_.Documents()) {
    indexed.insert(NumberOf(d.source));
    ++docs;
  }
  for (uint64_t n : acked) ASSERT_TRUE(indexed.count(n)) << "ACKed event " << n << " is not in Elasticsearch";
  EXPECT_EQ(docs, indexed.size()) << "duplicates in Elasticsearch";
  EXPECT_EQ(indexed.size(), acked.size());
  // Items sent again (replays, resends) were answered 409 instead of duplicated.
  std::printf("kill -9 x%d: %zu events ACKed and indexed once, %llu bulk items (%llu answered 409)\n", kills,
              indexed.size(), static_cast<unsigned long long>(es_.stats().items),
              static_cast<unsigned long long>(es_.stats().items - docs));
  std::string log = ReadFile(dir_.File("sluice.log"));
  EXPECT_EQ(log.find("Segmentation"), std::string::npos);
}

TEST_F(PersistedQueueE2eTest, LongElasticsearchOutageGrowsTheDiskNotTheMemoryAndDrains) {
  const std::string config = WriteConfig(
      "{type: persisted, max_bytes: 1GiB, segment_bytes: 4MiB, memory_bytes: 4MiB}", "    max_queue_bytes: 2MiB\n    batch_max_bytes: 1MiB\n    max_in_flight: 2\n");
  es_.Stall();
  auto sluice = StartSluice(config);
  BeatsSender client;
  ASSERT_TRUE(WaitFor([&] { return client.Connect(beats_port_); }, 10s)) << LogTail();
  const size_t kWindow = 500, kPad = 900;  // ~1 KiB events, ~0.5 MiB windows
  const int kWindows = 120;                // ~60 MiB, far more than the 4 MiB memory budget
  uint64_t n = 0;
  int64_t rss_warm = 0;
  for (int w = 0; w < kWindows; ++w) {
    // ACKed although Elasticsearch answers nothing: the ACK comes from the disk.
    ASSERT_TRUE(client.SendWindow(Window(n, kWindow, kPad), 20s)) << "window " << w << "\n" << LogTail();
    n += kWindow;
    if (w == 20) rss_warm = RssKiB(sluice->pid());
  }
  const int64_t rss_end = RssKiB(sluice->pid());
  const double disk = Scrape(admin_, "sluice_queue_bytes", "persisted");
  RecordProperty("rss_warm_kib", std::to_string(rss_warm));
  RecordProperty("rss_end_kib", std::to_string(rss_end));
  std::printf("outage: queue %.1f MiB on disk, RSS %lld KiB after 10 MiB, %lld KiB after 60 MiB\n", disk / 1048576,
              static_cast<long long>(rss_warm), static_cast<long long>(rss_end));
  EXPECT_GT(disk, 50.0 * 1048576);
  EXPECT_EQ(es_.Count(), 0u);
  EXPECT_LT(rss_end - rss_warm, 16 * 1024) << "RSS grew with the backlog";

  es_.Release();
  ASSERT_TRUE(WaitFor([&] { return es_.Count() == n; }, 60s)) << es_.Count() << " of " << n << "\n" << LogTail();
  ASSERT_TRUE(WaitFor([&] { return Scrape(admin_, "sluice_queue_records", "persisted") == 0; }, 10s));
  // Delivered segments are deleted: only the one being written stays.
  ASSERT_TRUE(WaitFor([&] { return Scrape(admin_, "sluice_queue_bytes", "persisted") <= 4.0 * 1048576; }, 10s));
  sluice->Kill(SIGTERM);
  EXPECT_EQ(sluice->Wait(20s), 0) << LogTail();
}

// The data directory on a real 2 MiB filesystem, Elasticsearch stalled: the
// disk fills up, the input stops ACKing (heartbeats only), one clear error is
// logged; once Elasticsearch answers, delivered segments are deleted, the
// paused window is written and ACKed, everything is indexed, and a restart
// finds nothing damaged.
TEST_F(PersistedQueueE2eTest, FullDiskPausesTheInputAndRecoversWithoutDamage) {
  const std::string mnt = dir_.File("small");
  std::filesystem::create_directories(mnt);
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=2m") != 0) {
    GTEST_SKIP() << "cannot mount a 2 MiB tmpfs (" << std::strerror(errno) << "): needs root";
  }
  struct Unmount {
    std::string dir;
    ~Unmount() { umount2(dir.c_str(), MNT_DETACH); }
  } unmount{mnt};
  const std::string config = WriteConfig(
      "{type: persisted, max_bytes: 1GiB, segment_bytes: 128KiB, memory_bytes: 1MiB}",
      "    max_queue_bytes: 256KiB\n    batch_max_bytes: 256KiB\n    max_in_flight: 1\n", mnt + "/data");
  es_.Stall();
  auto sluice = StartSluice(config);
  BeatsSender client;
  ASSERT_TRUE(WaitFor([&] { return client.Connect(beats_port_); }, 10s)) << LogTail();
  const size_t kWindow = 100, kPad = 900;  // ~100 KiB windows
  uint64_t n = 0;
  bool paused = false;
  for (int w = 0; w < 40 && !paused; ++w) {
    paused = !client.SendWindow(Window(n, kWindow, kPad), 2s);
    n += kWindow;
  }
  ASSERT_TRUE(paused) << "2 MiB should fill up within 4 MiB of events";
  EXPECT_NE(ReadFile(dir_.File("sluice.log")).find("cannot write ("), std::string::npos) << LogTail();
  EXPECT_GT(Scrape(admin_, "sluice_queue_full_total", "persisted"), 0);
  es_.Release();
  ASSERT_TRUE(client.WaitAck(kWindow, 30s)) << "the paused window is ACKed once there is room\n" << LogTail();
  for (int w = 0; w < 5; ++w, n += kWindow) ASSERT_TRUE(client.SendWindow(Window(n, kWindow, kPad), 10s));
  ASSERT_TRUE(WaitFor([&] { return es_.Count() == n; }, 30s)) << es_.Count() << " of " << n << "\n" << LogTail();
  ASSERT_TRUE(WaitFor([&] { return Scrape(admin_, "sluice_queue_records", "persisted") == 0; }, 10s));
  sluice->Kill(SIGTERM);
  ASSERT_EQ(sluice->Wait(20s), 0) << LogTail();
  // A restart finds the queue intact.
  auto again = StartSluice(config);
  ASSERT_TRUE(WaitFor([&] { return Scrape(admin_, "sluice_queue_torn_tail_bytes_total", "persisted") == 0; }, 10s));
  EXPECT_EQ(Scrape(admin_, "sluice_queue_corrupt_bytes_total", "persisted"), 0);
  EXPECT_EQ(Scrape(admin_, "sluice_queue_recovered_records", "persisted"), 0);
  again->Kill(SIGTERM);
  EXPECT_EQ(again->Wait(20s), 0) << LogTail();
  EXPECT_EQ(es_.Count(), n);
}

// Detector state across kill -9 (issue 6). Rules whose alerts are exact:
// ManyErrors fires for svc-A (150 errors over three killed runs, 151 in the
// last run: 301 > 300), never for svc-B (exactly 300, split over two runs);
// DuplicateCalc fires for ORD-1 (requested in a killed run and in the last
// run), never for ORD-2 (requested once). A restart that forgot the state
// misses the svc-A and ORD-1 alerts; one that counted replayed records twice
// fires for svc-B or ORD-2. In between, sluice is killed while Filebeat-like
// filler load flows, and once more after the alerts fired: they must be
// neither sent again nor forgotten (their resolves come after the restart).
TEST_F(PersistedQueueE2eTest, DetectorStateSurvivesKillNineWithoutMissedOrRepeatedAlerts) {
  testing::WriteFile(dir_.File("rules.yml"), R"yaml(rules:
  - name: ManyErrors
    type: threshold
    match: {level: ERROR}
    group_by: [service]
    window: 10m
    above: 300
  - name: DuplicateCalc
    type: duplicate
    match: {action: calc}
    group_by: [order]
    fingerprint: [order]
    window: 10m
)yaml");
  const std::string config =
      WriteConfig("{type: persisted, max_bytes: 256MiB, segment_bytes: 256KiB}", StrCat(
                      "rules:\n  paths: [rules.yml]\n  evaluation_interval: 100ms\n  allowed_lateness: 0s\n",
                      "  snapshot_interval: 300ms\n"));
  const std::string alerts_file = dir_.File("data/alerts/alerts.ndjson");
  // Event times 20 minutes back (the window is 10 minutes), all key events in
  // the first 5 seconds; `clock` events move stream time on.
  const int64_t base = (std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count() / 1000 - 1200) * 1000;
  uint64_t next_n = 0;
  auto event = [&](int64_t offset_ms, const std::string& members) {
    return StrCat("{\"@timestamp\":\"", FormatRfc3339Ms(base + offset_ms), "\",\"n\":", next_n++,
                  ",\"agent\":{\"id\":\"state-test\"},\"log\":{\"offset\":", next_n, ",\"file\":{\"path\":\"/x\"}},",
                  members, "}");
  };
  auto errors = [&](const std::string& service, int count, std::vector<std::string>* w) {
    for (int i = 0; i < count; ++i) w->push_back(event(i * 10, StrCat("\"level\":\"ERROR\",\"service\":\"", service, "\"")));
  };
  auto calc = [&](const std::string& order) { return event(4000, StrCat("\"action\":\"calc\",\"order\":\"", order, "\"")); };
  auto filler = [&](size_t count) {
    std::vector<std::string> w;
    for (size_t i = 0; i < count; ++i) w.push_back(event(static_cast<int64_t>(i % 5000), "\"level\":\"INFO\",\"service\":\"svc-A\""));
    return w;
  };
  // Alert lines of `name` containing `label`, in `state` (any if empty).
  auto count_alerts = [&](const std::string& name, const std::string& label, const std::string& state) {
    size_t n = 0;
    for (const std::string& line : testing::ReadLines(alerts_file)) {
      n += line.find(StrCat("\"alertname\":\"", name, "\"")) != std::string::npos &&
           line.find(label) != std::string::npos &&
           (state.empty() || line.find(StrCat("\"state\":\"", state, "\"")) != std::string::npos);
    }
    return n;
  };
  std::set<uint64_t> acked;
  auto ack = [&](const std::vector<std::string>& w) {
    for (const auto& e : w) acked.insert(NumberOf(e));
  };

  std::mt19937 rng(static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  const int kKilledRuns = 6;
  int kills = 0;
  for (int run = 0; run < kKilledRuns; ++run) {
    // Elasticsearch answers nothing in the first runs: the records stay
    // undelivered, so each restart replays them through the pipeline and the
    // detectors must skip what their snapshot covers (svc-B and ORD-2 would
    // count twice). Later runs deliver their key events before the kill, often
    // before a snapshot covers them: the restart must replay those delivered
    // records to the detectors only (svc-A and ORD-1 would fall short).
    const bool stalled = run < 3;
    if (run == 0) es_.Stall();
    if (run == 3) es_.Release();
    auto sluice = StartSluice(config);
    BeatsSender client;
    ASSERT_TRUE(WaitFor([&] { return client.Connect(beats_port_); }, 10s)) << LogTail();
    std::vector<std::string> key;
    if (run == 0) {
      errors("svc-B", 150, &key);
      key.push_back(calc("ORD-2"));
    } else if (run == 1) {
      errors("svc-B", 150, &key);
    } else if (run >= 3) {
      errors("svc-A", 50, &key);
      if (run == 3) key.push_back(calc("ORD-1"));
    }
    if (!key.empty()) {
      ASSERT_TRUE(client.SendWindow(key, 10s)) << LogTail();
      ack(key);
    }
    if (!stalled) {
      ASSERT_TRUE(WaitFor([&] { return es_.Count() >= acked.size(); }, 30s)) << LogTail();
    }
    // Filler load, killed at a random moment (before or after a snapshot).
    const auto kill_after =
        std::chrono::milliseconds(std::uniform_int_distribution<int>(stalled ? 20 : 0, stalled ? 900 : 300)(rng));
    std::thread killer([&sluice, kill_after] {
      std::this_thread::sleep_for(kill_after);
      sluice->Kill(SIGKILL);
    });
    for (;;) {
      auto w = filler(200);
      if (!client.SendWindow(w, 5s)) break;
      ack(w);
    }
    killer.join();
    ASSERT_EQ(sluice->Wait(10s), -SIGKILL);
    ++kills;
  }
  EXPECT_EQ(count_alerts("ManyErrors", "", "firing") + count_alerts("DuplicateCalc", "", "firing"), 0u)
      << ReadFile(alerts_file);

  // The last run: the rest of svc-A's errors and ORD-1's repeat, then stream
  // time past the errors' bucket.
  {
    auto sluice = StartSluice(config);
    BeatsSender client;
    ASSERT_TRUE(WaitFor([&] { return client.Connect(beats_port_); }, 10s)) << LogTail();
    std::vector<std::string> key;
    errors("svc-A", 151, &key);
    key.push_back(calc("ORD-1"));
    ASSERT_TRUE(client.SendWindow(key, 10s));
    ack(key);
    ASSERT_TRUE(WaitFor([&] { return count_alerts("DuplicateCalc", "ORD-1", "firing") == 1; }, 20s)) << LogTail();
    std::vector<std::string> clock = {event(150'000, "\"level\":\"INFO\"")};
    ASSERT_TRUE(client.SendWindow(clock, 10s));
    ack(clock);
    ASSERT_TRUE(WaitFor([&] { return count_alerts("ManyErrors", "svc-A", "firing") == 1; }, 20s))
        << ReadFile(alerts_file) << LogTail();
    // Killed once the alerts are saved (after the Tick that fired them; a
    // snapshot of the detectors follows within 300 ms).
    const double snapshots = Scrape(admin_, "sluice_rules_state_snapshots_total", "");
    ASSERT_TRUE(WaitFor([&] { return Scrape(admin_, "sluice_rules_state_snapshots_total", "") >= snapshots + 2; }, 10s));
    sluice->Kill(SIGKILL);
    ASSERT_EQ(sluice->Wait(10s), -SIGKILL);
  }
  {
    auto sluice = StartSluice(config);
    BeatsSender client;
    ASSERT_TRUE(WaitFor([&] { return client.Connect(beats_port_); }, 10s)) << LogTail();
    // Evaluations ran after the restart (a snapshot follows them).
    ASSERT_TRUE(WaitFor([&] { return Scrape(admin_, "sluice_rules_state_snapshots_total", "") >= 2; }, 20s)) << LogTail();
    EXPECT_EQ(Scrape(admin_, "sluice_rule_alerts_firing", "ManyErrors"), 1);
    // Stream time 12 minutes on: both alerts resolve, once.
    std::vector<std::string> clock = {event(720'000, "\"level\":\"INFO\"")};
    ASSERT_TRUE(client.SendWindow(clock, 10s));
    ack(clock);
    ASSERT_TRUE(WaitFor([&] {
      return count_alerts("ManyErrors", "svc-A", "resolved") == 1 && count_alerts("DuplicateCalc", "ORD-1", "resolved") == 1;
    }, 20s)) << ReadFile(alerts_file) << LogTail();
    ASSERT_TRUE(WaitFor([&] { return es_.Count() >= acked.size(); }, 30s)) << es_.Count() << " of " << acked.size();
    sluice->Kill(SIGTERM);
    EXPECT_EQ(sluice->Wait(20s), 0) << LogTail();
  }
  const std::string alerts = ReadFile(alerts_file);
  EXPECT_EQ(count_alerts("ManyErrors", "svc-A", "firing"), 1u) << alerts;
  EXPECT_EQ(count_alerts("DuplicateCalc", "ORD-1", "firing"), 1u) << alerts;
  EXPECT_EQ(count_alerts("ManyErrors", "svc-B", ""), 0u) << "replayed records counted twice\n" << alerts;
  EXPECT_EQ(count_alerts("DuplicateCalc", "ORD-2", ""), 0u) << "replayed records counted twice\n" << alerts;
  EXPECT_EQ(count_alerts("ManyErrors", "svc-A", "resolved"), 1u) << alerts;
  // Every ACKed event reached Elasticsearch (the sinks get what the detectors skip).
  std::set<uint64_t> indexed;
  for (const auto& d : es_.Documents()) indexed.insert(NumberOf(d.source));
  for (uint64_t n : acked) ASSERT_TRUE(indexed.count(n)) << "ACKed event " << n << " is not in Elasticsearch";
  const std::string log = ReadFile(dir_.File("sluice.log"));
  EXPECT_NE(log.find("restored the state of 2 rules"), std::string::npos);

  // A damaged snapshot: the real binary starts fresh, says so and counts it.
  const std::string snapshot = dir_.File("data/state/detectors.bin");
  std::string bytes = ReadFile(snapshot);
  ASSERT_GT(bytes.size(), 100u);
  bytes[bytes.size() / 2] ^= 0x5a;
  testing::WriteFile(snapshot, bytes);
  {
    auto sluice = StartSluice(config);
    ASSERT_TRUE(WaitFor([&] { return Scrape(admin_, "sluice_rules_state_discarded_total", "damaged") == 2; }, 10s))
        << LogTail();
    sluice->Kill(SIGTERM);
    EXPECT_EQ(sluice->Wait(20s), 0) << LogTail();
  }
  EXPECT_NE(ReadFile(dir_.File("sluice.log")).find("ignoring the saved detector state"), std::string::npos);
  std::printf("detector state: kill -9 x%d, %zu events, alerts exact\n", kills + 1, acked.size());
}

}  // namespace
}  // namespace sluice
