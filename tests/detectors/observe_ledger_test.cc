// ObserveLedger (issue 6): which persisted-queue records the detectors'
// snapshot covers, what a restart skips, and when evaluations may start.
#include "detectors/checkpoint.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "common/metrics.h"

namespace sluice::detectors {
namespace {

// Stands for the rules engine: notes the records it observed.
class RecordingObserver : public BatchObserver {
 public:
  void Observe(const Batch& b) override { seen.push_back(b.queue_seq); }
  std::vector<uint64_t> seen;
};

class ObserveLedgerTest : public ::testing::Test {
 protected:
  void Observe(uint64_t seq) {
    Batch b;
    b.queue_seq = seq;
    ledger_.Observe(b, engine_);
  }
  QueuePosition Position() {
    return ledger_.Quiesce([] {});
  }

  FieldRegistry fields_;
  MetricsRegistry metrics_;
  ObserveLedger ledger_{&fields_, &metrics_};
  RecordingObserver engine_;
};

TEST_F(ObserveLedgerTest, MemoryQueueHasNoPosition) {
  Observe(0);
  EXPECT_EQ(engine_.seen, (std::vector<uint64_t>{0}));
  EXPECT_EQ(Position().below, 0u);
}

TEST_F(ObserveLedgerTest, PositionCoversWhatWasObservedOutOfOrderToo) {
  for (uint64_t s = 1; s <= 5; ++s) ledger_.Feeding(s, true);
  Observe(1);
  Observe(2);
  Observe(4);  // another worker still has 3
  QueuePosition p = Position();
  EXPECT_EQ(p.below, 3u);
  EXPECT_EQ(p.extra, (std::vector<uint64_t>{4}));
  EXPECT_FALSE(p.Covers(3));
  EXPECT_TRUE(p.Covers(4));
  Observe(3);
  p = Position();
  EXPECT_EQ(p.below, 5u);
  EXPECT_TRUE(p.extra.empty());
  // An internal batch (alert documents) is never observed: it does not hold the position back.
  ledger_.Feeding(6, false);
  Observe(5);
  EXPECT_EQ(Position().below, 7u);
}

TEST_F(ObserveLedgerTest, RestartSkipsWhatTheSnapshotCoversAndKeepsCoveringIt) {
  QueuePosition covered;
  covered.below = 3;
  covered.extra = {5, 9};
  ledger_.Resume(covered, /*last_seq_in_log=*/6, /*deadline_ms=*/INT64_MAX);
  // Before anything is replayed, a snapshot still covers what the loaded one did.
  QueuePosition p = Position();
  EXPECT_EQ(p.below, 3u);
  EXPECT_EQ(p.extra, (std::vector<uint64_t>{5, 9}));
  EXPECT_FALSE(ledger_.ReadyToEvaluate(0));
  for (uint64_t s = 3; s <= 6; ++s) {
    ledger_.Feeding(s, true);
    Observe(s);
  }
  EXPECT_EQ(engine_.seen, (std::vector<uint64_t>{3, 4, 6}));  // 5 was in the snapshot
  EXPECT_EQ(metrics_.Value("sluice_rules_replay_skipped_records_total", {}), 1);
  EXPECT_TRUE(ledger_.ReadyToEvaluate(0));
  p = Position();
  EXPECT_EQ(p.below, 7u);
  EXPECT_EQ(p.extra, (std::vector<uint64_t>{9}));
  ledger_.Feeding(7, true);
  ledger_.Feeding(8, true);
  Observe(7);
  Observe(8);
  p = Position();
  EXPECT_EQ(p.below, 10u);  // 9 stays covered
  EXPECT_TRUE(p.extra.empty());
}

TEST_F(ObserveLedgerTest, EvaluationsWaitForTheReplayAtMostUntilTheDeadline) {
  ledger_.Resume({}, /*last_seq_in_log=*/2, /*deadline_ms=*/1000);
  EXPECT_FALSE(ledger_.ReadyToEvaluate(10));
  ledger_.Feeding(1, true);
  ledger_.Feeding(2, true);
  Observe(2);
  EXPECT_FALSE(ledger_.ReadyToEvaluate(20));  // 1 not observed yet
  EXPECT_TRUE(ledger_.ReadyToEvaluate(1000));
  EXPECT_TRUE(ledger_.ReadyToEvaluate(30));  // once started, evaluations go on
}

TEST_F(ObserveLedgerTest, SnapshotWrittenReleasesTheQueueRecords) {
  uint64_t released = 0;
  ledger_.SetOnSnapshot([&](uint64_t below) { released = below; });
  QueuePosition p;
  ledger_.SnapshotWritten(p);  // memory queue: nothing to release
  EXPECT_EQ(released, 0u);
  p.below = 42;
  ledger_.SnapshotWritten(p);
  EXPECT_EQ(released, 42u);
}

// Workers observe batches while snapshots are taken: a snapshot never sees
// a batch half-applied, and its position says exactly what was applied.
TEST(ObserveLedgerConcurrencyTest, SnapshotsWaitForRunningObserves) {
  FieldRegistry fields;
  MetricsRegistry metrics;
  ObserveLedger ledger(&fields, &metrics);
  struct SlowEngine : BatchObserver {
    std::atomic<int> running{0};
    std::mutex mu;
    std::set<uint64_t> applied;
    void Observe(const Batch& b) override {
      running.fetch_add(1);
      volatile uint64_t spin = 0;
      for (int i = 0; i < 20'000; ++i) spin = spin + static_cast<uint64_t>(i);
      {
        std::lock_guard<std::mutex> l(mu);
        applied.insert(b.queue_seq);
      }
      running.fetch_sub(1);
    }
  } engine;
  constexpr uint64_t kBatches = 4000;
  for (uint64_t s = 1; s <= kBatches; ++s) ledger.Feeding(s, true);
  std::atomic<uint64_t> next{1};
  std::vector<std::thread> workers;
  for (int w = 0; w < 3; ++w) {
    workers.emplace_back([&] {
      for (uint64_t s; (s = next.fetch_add(1)) <= kBatches;) {
        Batch b;
        b.queue_seq = s;
        ledger.Observe(b, engine);
      }
    });
  }
  int snapshots = 0;
  while (next.load() <= kBatches) {
    std::set<uint64_t> seen;
    int running_during = -1;
    QueuePosition p = ledger.Quiesce([&] {
      running_during = engine.running.load();
      std::lock_guard<std::mutex> l(engine.mu);
      seen = engine.applied;
    });
    ++snapshots;
    ASSERT_EQ(running_during, 0) << "a snapshot ran while a batch was being applied";
    for (uint64_t s = 1; s <= kBatches; ++s) ASSERT_EQ(p.Covers(s), seen.contains(s)) << "record " << s;
  }
  for (auto& t : workers) t.join();
  EXPECT_GT(snapshots, 0);
  EXPECT_EQ(ledger.Quiesce([] {}).below, kBatches + 1);
}

TEST_F(ObserveLedgerTest, ObserveOnlyParsesAndHandsTheRecordToTheEngine) {
  const int field = fields_.Register("level");
  struct FieldReader : BatchObserver {
    int field;
    std::vector<std::string> levels;
    void Observe(const Batch& b) override {
      for (size_t i = 0; i < b.size(); ++i) levels.emplace_back(b.View(b.field(i, static_cast<size_t>(field)).span));
    }
  };
  auto reader = std::make_shared<FieldReader>();
  reader->field = field;
  ledger_.SetObserver(reader);
  auto b = std::make_shared<Batch>();
  b->Append(R"({"level":"ERROR"})");
  b->queue_seq = 1;
  ledger_.ObserveOnly(b);
  EXPECT_EQ(reader->levels, (std::vector<std::string>{"ERROR"}));
}

}  // namespace
}  // namespace sluice::detectors
