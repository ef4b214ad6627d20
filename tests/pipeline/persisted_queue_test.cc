// The persisted queue on its own: a fake downstream stands for the pipeline
// and releases (delivers) batches when the test says so.
#include "pipeline/persisted_queue.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "common/strings.h"
#include "common/test_util.h"
#include "common/timeutil.h"
#include "pipeline/app.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using testing::WaitFor;
namespace fs = std::filesystem;

// Takes every batch (or refuses while blocked, calling on_space once unblocked).
class FakeDownstream : public BatchReceiver {
 public:
  bool TryPush(BatchPtr& batch, std::function<void()> on_space) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (blocked_) {
      waiter_ = std::move(on_space);
      return false;
    }
    batches_.push_back(std::move(batch));
    return true;
  }
  void SetBlocked(bool blocked) {
    std::function<void()> w;
    {
      std::lock_guard<std::mutex> lock(mu_);
      blocked_ = blocked;
      if (!blocked) w = std::move(waiter_);
    }
    if (w) w();
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_.size();
  }
  // Delivers (releases) the first `n` batches not yet released.
  void Deliver(size_t n = SIZE_MAX) {
    std::vector<BatchPtr> out;
    {
      std::lock_guard<std::mutex> lock(mu_);
      while (released_ < batches_.size() && out.size() < n) out.push_back(batches_[released_++]);
    }
    for (auto& b : out) b->Release();
  }
  std::vector<std::string> Messages() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (auto& b : batches_) {
      for (const Event& e : b->events()) out.emplace_back(b->Raw(e));
    }
    return out;
  }
  BatchPtr at(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_[i];
  }

 private:
  std::mutex mu_;
  bool blocked_ = false;
  std::function<void()> waiter_;
  std::vector<BatchPtr> batches_;
  size_t released_ = 0;
};

BatchPtr MakeBatch(int id, int events = 3, size_t pad = 0) {
  auto b = std::make_shared<Batch>();
  for (int j = 0; j < events; ++j) {
    b->Append(StrCat("{\"batch\":", id, ",\"event\":", j, ",\"pad\":\"", std::string(pad, 'x'), "\"}"));
  }
  b->source = "beats";
  b->peer = "10.0.0.1:5000";
  b->received_ms = 1700000000000 + id;
  return b;
}

std::vector<std::string> ExpectedMessages(int from, int to, int events = 3, size_t pad = 0) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) {
    BatchPtr b = MakeBatch(i, events, pad);
    for (const Event& e : b->events()) out.emplace_back(b->Raw(e));
  }
  return out;
}

size_t SegmentFiles(const std::string& dir) {
  size_t n = 0;
  for (const auto& de : fs::directory_iterator(dir)) n += de.path().filename().string().rfind("seg-", 0) == 0;
  return n;
}

class PersistedQueueTest : public ::testing::Test {
 protected:
  PersistedQueueOptions Options() {
    PersistedQueueOptions o;
    o.dir = dir_.File("queue");
    o.segment_bytes = 4096;
    o.max_bytes = 1 << 20;
    o.retry_interval_ms = 50;
    o.commit_interval_ms = 10;
    return o;
  }
  std::unique_ptr<PersistedQueue> Open(PersistedQueueOptions o) {
    auto q = PersistedQueue::Open(std::move(o), &metrics_);
    EXPECT_TRUE(q.ok()) << q.status();
    if (!q.ok()) return nullptr;
    (*q)->Start(&down_);
    return std::move(*q);
  }
  // Pushes batch `id` with an on-safe counter; true if the queue took it.
  bool Push(PersistedQueue* q, int id, size_t pad = 0, std::function<void()> on_space = nullptr) {
    BatchPtr b = MakeBatch(id, 3, pad);
    b->SetOnSafe([this] { safe_++; });
    return q->TryPush(b, on_space ? on_space : [] {});
  }

  testing::TempDir dir_;
  MetricsRegistry metrics_;
  FakeDownstream down_;
  std::atomic<int> safe_{0};
};

TEST(BatchRecordTest, RoundTrips) {
  BatchPtr b = MakeBatch(7, 5);
  b->trusted_json = true;
  std::string rec;
  SerializeBatch(*b, &rec);
  BatchPtr c = DeserializeBatch(rec);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(c->Raw(c->events()[i]), b->Raw(b->events()[i]));
  EXPECT_EQ(c->source, "beats");
  EXPECT_EQ(c->peer, "10.0.0.1:5000");
  EXPECT_EQ(c->received_ms, b->received_ms);
  EXPECT_TRUE(c->trusted_json);
  EXPECT_FALSE(c->internal);
  // Every truncation and a wrong version are refused, never read past the end.
  for (size_t n = 0; n < rec.size(); ++n) EXPECT_EQ(DeserializeBatch(std::string_view(rec).substr(0, n)), nullptr) << n;
  rec[0] = 9;
  EXPECT_EQ(DeserializeBatch(rec), nullptr);
}

TEST_F(PersistedQueueTest, SafeAfterSyncThenDeliveredCommittedAndSegmentsDeleted) {
  auto q = Open(Options());
  const int kBatches = 200;
  for (int i = 0; i < kBatches; ++i) ASSERT_TRUE(Push(q.get(), i));
  // Safe (ACKed) once on disk, although nothing was delivered yet.
  ASSERT_TRUE(WaitFor([&] { return safe_ == kBatches; }));
  ASSERT_TRUE(WaitFor([&] { return down_.size() == kBatches; }));
  EXPECT_EQ(down_.Messages(), ExpectedMessages(0, kBatches));
  EXPECT_GT(SegmentFiles(Options().dir), 3u);
  ASSERT_TRUE(WaitFor([&] { return q->records() == static_cast<uint64_t>(kBatches); }));
  EXPECT_EQ(metrics_.Sum("sluice_queue_records", {{"queue", "persisted"}}), kBatches);
  EXPECT_GT(metrics_.Sum("sluice_queue_bytes", {{"queue", "persisted"}}), 4096);

  down_.Deliver(50);
  ASSERT_TRUE(WaitFor([&] { return q->committed_seq() == 51; }));
  down_.Deliver();
  ASSERT_TRUE(WaitFor([&] { return q->committed_seq() == kBatches + 1; }));
  ASSERT_TRUE(WaitFor([&] { return q->records() == 0; }));
  EXPECT_EQ(SegmentFiles(Options().dir), 1u);  // only the segment being written stays
  EXPECT_LE(q->disk_bytes(), 4096u);
  q.reset();
  // Nothing to replay.
  auto q2 = Open(Options());
  EXPECT_EQ(q2->recovery().records, 0u);
  ASSERT_FALSE(WaitFor([&] { return down_.size() > kBatches; }, 100ms));
}

TEST_F(PersistedQueueTest, ReplaysUndeliveredAfterReopenInOrder) {
  auto q = Open(Options());
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(Push(q.get(), i));
  ASSERT_TRUE(WaitFor([&] { return down_.size() == 30; }));
  down_.Deliver(10);
  ASSERT_TRUE(WaitFor([&] { return q->committed_seq() == 11; }));
  q.reset();  // like a crash after the commit: batches 10..29 were never delivered

  FakeDownstream fresh;
  auto reopened = PersistedQueue::Open(Options(), &metrics_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->recovery().records, 20u);
  EXPECT_EQ(metrics_.Sum("sluice_queue_recovered_records", {}), 20);
  (*reopened)->Start(&fresh);
  ASSERT_TRUE(WaitFor([&] { return fresh.size() == 20; }));
  // New input goes after the replay.
  BatchPtr b = MakeBatch(30);
  ASSERT_TRUE((*reopened)->TryPush(b, [] {}));
  ASSERT_TRUE(WaitFor([&] { return fresh.size() == 21; }));
  EXPECT_EQ(fresh.Messages(), ExpectedMessages(10, 31));
  EXPECT_EQ(fresh.at(0)->source, "beats");
  EXPECT_EQ(fresh.at(0)->received_ms, 1700000000010);
  fresh.Deliver();
  ASSERT_TRUE(WaitFor([&] { return (*reopened)->records() == 0; }));
}

TEST_F(PersistedQueueTest, FullAtMaxBytesPausesInputsAndResumesAfterDelivery) {
  PersistedQueueOptions o = Options();
  o.max_bytes = 64 << 10;
  o.segment_bytes = 8 << 10;
  o.pending_bytes = 8 << 10;
  auto q = Open(o);
  std::atomic<int> woken{0};
  int pushed = 0;
  // Nothing is delivered: the log fills up to max_bytes, then the queue refuses.
  ASSERT_TRUE(WaitFor([&] {
    while (Push(q.get(), pushed, 200, [&] { woken++; })) ++pushed;
    return q->full();
  }));
  EXPECT_GT(pushed, 50);
  std::atomic<int> woken_after_full{0};
  EXPECT_FALSE(Push(q.get(), pushed, 200, [&] { woken_after_full++; }));
  EXPECT_LE(q->disk_bytes(), o.max_bytes);
  EXPECT_GT(metrics_.Sum("sluice_queue_full_total", {}), 0);
  // The pending batches that did not fit are not ACKed.
  ASSERT_TRUE(WaitFor([&] { return down_.size() == static_cast<size_t>(safe_.load()); }));
  EXPECT_LT(safe_.load(), pushed);
  EXPECT_FALSE(WaitFor([&] { return woken_after_full.load() > 0; }, 200ms));  // several retries, still full

  down_.Deliver();  // delivered segments are deleted: room again
  ASSERT_TRUE(WaitFor([&] { return woken_after_full.load() == 1 && !q->full(); }));
  ASSERT_TRUE(Push(q.get(), pushed++, 200));
  ASSERT_TRUE(WaitFor([&] { return safe_ == pushed; }));
  ASSERT_TRUE(WaitFor([&] { return down_.size() == static_cast<size_t>(pushed); }));
  EXPECT_EQ(down_.Messages(), ExpectedMessages(0, pushed, 3, 200));
}

TEST_F(PersistedQueueTest, DownstreamRefusalKeepsOrderAndMemoryBounded) {
  PersistedQueueOptions o = Options();
  o.memory_bytes = 16 << 10;  // only a few in-memory copies: the rest is read back from disk
  o.segment_bytes = 64 << 10;
  auto q = Open(o);
  down_.SetBlocked(true);
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(WaitFor([&] { return Push(q.get(), i, 100); }));
  ASSERT_TRUE(WaitFor([&] { return safe_ == 300; }));  // ACKed from disk while the sinks are stuck
  EXPECT_EQ(down_.size(), 0u);
  down_.SetBlocked(false);
  ASSERT_TRUE(WaitFor([&] { return down_.size() == 300; }));
  EXPECT_EQ(down_.Messages(), ExpectedMessages(0, 300, 3, 100));
  down_.Deliver();
  ASSERT_TRUE(WaitFor([&] { return q->records() == 0; }));
}

TEST_F(PersistedQueueTest, IntervalSyncAcksAtGroupCommitAndStopAcceptingFlushes) {
  PersistedQueueOptions o = Options();
  o.sync_every_batch = false;
  o.sync_interval_ms = 60'000;  // no group commit during the test but the first
  auto q = Open(o);
  ASSERT_TRUE(Push(q.get(), 0));
  ASSERT_TRUE(WaitFor([&] { return safe_ == 1; }));  // the first sync is due at once
  for (int i = 1; i < 6; ++i) ASSERT_TRUE(Push(q.get(), i));
  ASSERT_TRUE(WaitFor([&] { return down_.size() == 6; }));  // written and delivered, not yet synced
  EXPECT_EQ(safe_.load(), 1);
  q->StopAccepting(NowMs() + 5000);  // shutdown: syncs and ACKs what it took
  EXPECT_EQ(safe_.load(), 6);
  EXPECT_FALSE(Push(q.get(), 6));
  down_.Deliver();
  q->Close();
  DiskLogRecovery r;
  ASSERT_TRUE(DiskLog::Open({o.dir, o.segment_bytes, o.max_bytes}, &r).ok());
  EXPECT_EQ(r.records, 0u);  // Close committed the delivered records
}

TEST_F(PersistedQueueTest, BatchLargerThanHalfTheQueueBypassesTheDisk) {
  PersistedQueueOptions o = Options();
  o.max_bytes = 64 << 10;
  o.segment_bytes = 8 << 10;
  auto q = Open(o);
  ASSERT_TRUE(Push(q.get(), 0, 40 << 10));
  ASSERT_EQ(down_.size(), 1u);
  EXPECT_FALSE(WaitFor([&] { return safe_ > 0; }, 50ms));  // ACKed by the sinks, not by the disk
  down_.Deliver();
  EXPECT_EQ(safe_.load(), 1);
  EXPECT_EQ(q->records(), 0u);
  ASSERT_TRUE(Push(q.get(), 1));  // the queue still works
  ASSERT_TRUE(WaitFor([&] { return safe_ == 2 && down_.size() == 2; }));
}

TEST_F(PersistedQueueTest, CorruptRecordAndTornTailAreReportedAndSkipped) {
  PersistedQueueOptions o = Options();
  {
    auto q = Open(o);
    down_.SetBlocked(true);
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(Push(q.get(), i));
    ASSERT_TRUE(WaitFor([&] { return safe_ == 100; }));
  }
  std::vector<std::string> segs;
  for (const auto& de : fs::directory_iterator(o.dir)) {
    if (de.path().filename().string().rfind("seg-", 0) == 0) segs.push_back(de.path().string());
  }
  std::sort(segs.begin(), segs.end());
  ASSERT_GE(segs.size(), 3u);
  {  // flip a byte inside the first record's payload of the first segment
    std::fstream f(segs[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('#');
  }
  // Tear the last record of the last segment.
  fs::resize_file(segs.back(), fs::file_size(segs.back()) - 5);

  FakeDownstream fresh;
  auto q = PersistedQueue::Open(o, &metrics_);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_GT((*q)->recovery().corrupt_bytes, 0u);
  EXPECT_GT((*q)->recovery().torn_tail_bytes, 0u);
  EXPECT_EQ((*q)->recovery().records, 98u);
  EXPECT_GT(metrics_.Sum("sluice_queue_corrupt_bytes_total", {}), 0);
  EXPECT_GT(metrics_.Sum("sluice_queue_torn_tail_bytes_total", {}), 0);
  (*q)->Start(&fresh);
  ASSERT_TRUE(WaitFor([&] { return fresh.size() == 98; }));
  EXPECT_EQ(fresh.Messages(), ExpectedMessages(1, 99));
  // Appends continue cleanly after the cut tail.
  BatchPtr b = MakeBatch(100);
  ASSERT_TRUE((*q)->TryPush(b, [] {}));
  ASSERT_TRUE(WaitFor([&] { return fresh.size() == 99; }));
  fresh.Deliver();
  ASSERT_TRUE(WaitFor([&] { return (*q)->records() == 0; }));
  q->reset();
  DiskLogRecovery r;
  auto log = DiskLog::Open({o.dir, o.segment_bytes, o.max_bytes}, &r);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(r.records, 0u);
  EXPECT_EQ(r.torn_tail_bytes, 0u);
}

// A real small filesystem (tmpfs, needs root): the disk fills up before
// max_bytes. The queue pauses, corrupts nothing, and resumes once delivered
// segments are deleted.
TEST_F(PersistedQueueTest, DiskFullOnSmallFilesystemPausesAndRecovers) {
  std::string mnt = dir_.File("small");
  fs::create_directories(mnt);
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0) {
    GTEST_SKIP() << "cannot mount a 256k tmpfs (" << std::strerror(errno) << "): needs root";
  }
  struct Unmount {
    std::string dir;
    ~Unmount() { umount2(dir.c_str(), MNT_DETACH); }
  } unmount{mnt};
  PersistedQueueOptions o = Options();
  o.dir = mnt + "/queue";
  o.segment_bytes = 32 << 10;
  o.max_bytes = 1ull << 30;  // far more than the disk
  o.pending_bytes = 8 << 10;
  {
    auto q = Open(o);
    int pushed = 0;
    ASSERT_TRUE(WaitFor([&] {
      while (Push(q.get(), pushed, 300)) ++pushed;
      return q->full();
    }));
    EXPECT_GT(pushed, 100);
    EXPECT_LT(q->disk_bytes(), 256u << 10);
    ASSERT_TRUE(WaitFor([&] { return down_.size() == static_cast<size_t>(safe_.load()); }));
    // Still full a few retries later (nothing delivered).
    EXPECT_FALSE(WaitFor([&] { return !q->full(); }, 200ms));
    down_.Deliver();
    ASSERT_TRUE(WaitFor([&] { return !q->full(); }));
    ASSERT_TRUE(WaitFor([&] { return safe_ == pushed; }));  // the paused batches were written after all
    for (int k = 0; k < 20; ++k, ++pushed) ASSERT_TRUE(WaitFor([&] { return Push(q.get(), pushed, 300); })) << k;
    ASSERT_TRUE(WaitFor([&] { return down_.size() == static_cast<size_t>(pushed); }));
    EXPECT_EQ(down_.Messages(), ExpectedMessages(0, pushed, 3, 300));
    down_.Deliver();
    ASSERT_TRUE(WaitFor([&] { return q->records() == 0; }));
  }
  DiskLogRecovery r;
  auto log = DiskLog::Open({o.dir, o.segment_bytes, o.max_bytes}, &r);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(r.corrupt_bytes, 0u);
  EXPECT_EQ(r.torn_tail_bytes, 0u);
  EXPECT_EQ(r.records, 0u);
}

// Stands for the detectors (detectors/checkpoint.h): notes what the queue
// feeds and what it replays to them only.
class RecordingLink : public QueueObserverLink {
 public:
  void Feeding(uint64_t seq, bool observed) override {
    std::lock_guard<std::mutex> lock(mu_);
    fed_.push_back(seq);
  }
  void ObserveOnly(BatchPtr batch) override {
    std::lock_guard<std::mutex> lock(mu_);
    observe_only_.push_back(batch->queue_seq);
    for (const Event& e : batch->events()) messages_.emplace_back(batch->Raw(e));
  }
  std::vector<uint64_t> fed() {
    std::lock_guard<std::mutex> lock(mu_);
    return fed_;
  }
  std::vector<uint64_t> observe_only() {
    std::lock_guard<std::mutex> lock(mu_);
    return observe_only_;
  }
  std::vector<std::string> messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }
  void SnapshotWanted() override { snapshot_wanted = true; }
  std::atomic<bool> snapshot_wanted{false};

 private:
  std::mutex mu_;
  std::vector<uint64_t> fed_, observe_only_;
  std::vector<std::string> messages_;
};

// Issue 6: delivered records the detectors' last snapshot does not cover stay
// on disk and, after a restart, go to the detectors only; a newer snapshot
// lets their segments go.
TEST_F(PersistedQueueTest, DeliveredRecordsAreKeptForTheDetectorsAndReplayedToThemOnly) {
  PersistedQueueOptions o = Options();
  o.detectors_from = 1;  // no snapshot yet: everything from the start is kept
  RecordingLink link;
  auto q = PersistedQueue::Open(o, &metrics_);
  ASSERT_TRUE(q.ok());
  (*q)->SetObserverLink(&link);
  (*q)->Start(&down_);
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(Push(q->get(), i, 100));
  ASSERT_TRUE(WaitFor([&] { return down_.size() == 60; }));
  EXPECT_EQ(link.fed().size(), 60u);
  EXPECT_EQ(down_.at(0)->queue_seq, 1u);
  EXPECT_EQ(down_.at(59)->queue_seq, 60u);
  down_.Deliver();
  ASSERT_TRUE(WaitFor([&] { return (*q)->committed_seq() == 61; }));
  const size_t segments = SegmentFiles(o.dir);
  EXPECT_GT(segments, 3u) << "delivered, but the detectors' snapshot does not cover them";
  (*q)->RetainFrom(41);  // a snapshot covering records 1..40 is durable
  ASSERT_TRUE(WaitFor([&] { return SegmentFiles(o.dir) < segments; }));
  q->reset();  // a crash: the detectors saw 41..60 but never saved them

  FakeDownstream fresh;
  RecordingLink replay;
  o.detectors_from = 41;
  auto reopened = PersistedQueue::Open(o, &metrics_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->recovery().records, 0u);  // nothing undelivered
  (*reopened)->SetObserverLink(&replay);
  (*reopened)->Start(&fresh);
  ASSERT_TRUE(WaitFor([&] { return replay.observe_only().size() == 20; }));
  std::vector<uint64_t> want;
  for (uint64_t s = 41; s <= 60; ++s) want.push_back(s);
  EXPECT_EQ(replay.observe_only(), want);
  EXPECT_EQ(replay.messages(), ExpectedMessages(40, 60, 3, 100));
  // New input: delivered (and fed to the detectors) after the replay.
  ASSERT_TRUE(Push(reopened->get(), 60, 100));
  ASSERT_TRUE(WaitFor([&] { return fresh.size() == 1; }));
  EXPECT_EQ(fresh.Messages(), ExpectedMessages(60, 61, 3, 100));
  EXPECT_EQ(replay.fed(), (std::vector<uint64_t>{61}));
  fresh.Deliver();
  (*reopened)->RetainFrom(62);
  ASSERT_TRUE(WaitFor([&] { return SegmentFiles(o.dir) == 1; }));
}

// Full because of delivered records kept for the detectors: the queue asks for
// a snapshot, and the inputs resume once it is durable.
TEST_F(PersistedQueueTest, FullOfRecordsKeptForTheDetectorsAsksForASnapshot) {
  PersistedQueueOptions o = Options();
  o.max_bytes = 20'000;
  o.detectors_from = 1;
  RecordingLink link;
  auto q = PersistedQueue::Open(o, &metrics_);
  ASSERT_TRUE(q.ok());
  (*q)->SetObserverLink(&link);
  (*q)->Start(&down_);
  const size_t kBatches = 30;  // ~3 kB records: 20 kB hold 6
  for (size_t i = 0; i < kBatches; ++i) ASSERT_TRUE(Push(q->get(), static_cast<int>(i), 1000));
  ASSERT_TRUE(WaitFor([&] { return (*q)->full(); }));
  // Every sink has what was written: only the detectors' snapshot holds it.
  // (Something must have been fed first: before the feed, 1 == 0 + 1 holds
  // too, and then nothing is ever confirmed - the test's own flake under load.)
  ASSERT_TRUE(WaitFor([&] {
    down_.Deliver();
    return down_.size() > 0 && (*q)->committed_seq() == down_.size() + 1;
  }));
  ASSERT_TRUE(WaitFor([&] { return link.snapshot_wanted.load(); }));
  EXPECT_LT(down_.size(), kBatches);
  // Each snapshot lets the delivered records go; the rest is written.
  ASSERT_TRUE(WaitFor([&] {
    down_.Deliver();
    (*q)->RetainFrom((*q)->committed_seq());
    return down_.size() == kBatches;
  }));
  EXPECT_EQ(down_.Messages(), ExpectedMessages(0, kBatches, 3, 1000));
}

TEST(PersistedQueueConfigTest, OptionsAndErrors) {
  auto app = App::Load(R"(data_dir: /var/lib/sluice
pipeline:
  queue: {type: persisted, max_bytes: 2GiB, segment_bytes: 32MiB, sync: interval, sync_interval: 50ms,
          memory_bytes: 16MiB}
inputs: [{type: beats, listen: "127.0.0.1:0"}]
outputs: [{type: elasticsearch, hosts: ["http://127.0.0.1:9200"]}]
)",
                       "q.yml", /*check_only=*/true);
  ASSERT_TRUE(app.ok()) << app.status();
  const auto& o = (*app)->options();
  ASSERT_TRUE(o.persisted_queue.has_value());
  EXPECT_EQ(o.persisted_queue->dir, "/var/lib/sluice/queue");
  EXPECT_EQ(o.persisted_queue->max_bytes, 2ull << 30);
  EXPECT_EQ(o.persisted_queue->segment_bytes, 32ull << 20);
  EXPECT_FALSE(o.persisted_queue->sync_every_batch);
  EXPECT_EQ(o.persisted_queue->sync_interval_ms, 50);
  EXPECT_EQ(o.pipeline.queue_max_bytes, 8ull << 20);  // half of memory_bytes
  EXPECT_EQ(o.persisted_queue->pending_bytes, 4ull << 20);

  auto bad = App::Load(R"(pipeline:
  queue: {type: persisted, max_bytes: 1GiB, segment_bytes: 600MiB, sync: sometimes}
outputs: [{type: file, path: /dev/null}]
)",
                       "bad.yml", true);
  ASSERT_FALSE(bad.ok());
  const std::string msg(MessageOf(bad.status().message()));
  EXPECT_NE(msg.find("bad.yml:2:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("segment_bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sync"), std::string::npos) << msg;
  // The memory queue keeps its own max_bytes and has no persisted keys.
  auto mem = App::Load("pipeline: {queue: {type: memory, sync: batch}}\noutputs: [{type: file, path: /dev/null}]\n",
                       "mem.yml", true);
  EXPECT_FALSE(mem.ok());
}

}  // namespace
}  // namespace sluice
