#include "pipeline/pipeline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/test_util.h"
#include "common/timeutil.h"
#include "pipeline/capture_sink.h"
#include "pipeline/dead_letter.h"

namespace sluice {
namespace {

struct Fixture {
  testing::TempDir dir;
  MetricsRegistry metrics;
  FieldRegistry fields;
  DeadLetterQueue dlq{DeadLetterOptions{dir.path() + "/dlq"}, &metrics};
  ComponentContext ctx;
  Fixture() {
    ctx.metrics = &metrics;
    ctx.fields = &fields;
    ctx.dead_letters = &dlq;
    EXPECT_TRUE(dlq.Open().ok());
  }
};

BatchPtr MakeBatch(std::vector<std::string> events, std::atomic<int>* safe) {
  auto b = std::make_shared<Batch>();
  b->source = "test";
  b->peer = "127.0.0.1:1";
  for (auto& e : events) b->Append(e);
  b->SetOnSafe([safe] { safe->fetch_add(1); });
  return b;
}

TEST(PipelineTest, EveryEventReachesEverySinkAndBatchBecomesSafe) {
  Fixture f;
  testing::CaptureSink s1, s2;
  Pipeline p({.workers = 2, .queue_max_bytes = 1 << 20}, &f.ctx, {&s1, &s2});
  p.Start();
  std::atomic<int> safe{0};
  for (int i = 0; i < 50; ++i) {
    BatchPtr b = MakeBatch({R"({"n":1,"@metadata":{"beat":"x"}})", R"({"n":2})"}, &safe);
    ASSERT_TRUE(p.TryPush(b, [] {}));
  }
  ASSERT_TRUE(testing::WaitFor([&] { return safe.load() == 50; }));
  EXPECT_EQ(s1.docs().size(), 100u);
  EXPECT_EQ(s2.docs().size(), 100u);
  EXPECT_EQ(s1.docs()[0].find("@metadata"), std::string::npos);
  p.Drain(NowMs() + 1000);
}

TEST(PipelineTest, NotSafeUntilEverySinkReleases) {
  Fixture f;
  testing::CaptureSink fast, slow;
  slow.SetHold(true);
  Pipeline p({.workers = 1, .queue_max_bytes = 1 << 20}, &f.ctx, {&fast, &slow});
  p.Start();
  std::atomic<int> safe{0};
  BatchPtr b = MakeBatch({R"({"n":1})"}, &safe);
  ASSERT_TRUE(p.TryPush(b, [] {}));
  ASSERT_TRUE(testing::WaitFor([&] { return slow.held() == 1; }));
  EXPECT_EQ(fast.docs().size(), 1u);
  EXPECT_EQ(safe.load(), 0);
  slow.SetHold(false);
  EXPECT_TRUE(testing::WaitFor([&] { return safe.load() == 1; }));
  p.Drain(NowMs() + 1000);
}

TEST(PipelineTest, InvalidJsonIsDeadLetteredWithReasonAndStillSafe) {
  Fixture f;
  testing::CaptureSink s;
  Pipeline p({.workers = 1, .queue_max_bytes = 1 << 20}, &f.ctx, {&s});
  p.Start();
  std::atomic<int> safe{0};
  BatchPtr b = MakeBatch({R"({"ok":1})", R"({"broken":)", R"({"ok":2})"}, &safe);
  ASSERT_TRUE(p.TryPush(b, [] {}));
  ASSERT_TRUE(testing::WaitFor([&] { return safe.load() == 1; }));
  EXPECT_EQ(s.docs().size(), 2u);
  EXPECT_EQ(f.dlq.written(), 1u);
  std::string dlq_text;
  for (const auto& de : std::filesystem::directory_iterator(f.dir.path() + "/dlq")) {
    dlq_text += testing::ReadFile(de.path().string());
  }
  EXPECT_NE(dlq_text.find("\"reason\":\"invalid JSON"), std::string::npos) << dlq_text;
  EXPECT_NE(dlq_text.find("\"original\":\"{\\\"broken\\\":\""), std::string::npos) << dlq_text;
  EXPECT_NE(dlq_text.find("\"component\":\"test\""), std::string::npos);
  EXPECT_EQ(f.metrics.Sum("sluice_component_errors_total", {{"reason", "invalid_json"}}), 1);
  p.Drain(NowMs() + 1000);
}

TEST(PipelineTest, FullQueueRejectsThenWakesTheInput) {
  Fixture f;
  testing::CaptureSink s;
  s.SetHold(true);
  // One worker, blocked in a sink that holds: the queue fills up behind it.
  class BlockingSink : public testing::CaptureSink {
   public:
    void Submit(BatchPtr b) override {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return open; });
      lock.unlock();
      testing::CaptureSink::Submit(std::move(b));
    }
    void Open() {
      std::lock_guard<std::mutex> lock(mu);
      open = true;
      cv.notify_all();
    }
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;
  } blocking;
  Pipeline p({.workers = 1, .queue_max_bytes = 64 * 1024}, &f.ctx, {&blocking});
  p.Start();
  std::atomic<int> safe{0};
  std::atomic<int> woken{0};
  int accepted = 0;
  BatchPtr rejected;
  for (int i = 0; i < 100; ++i) {
    BatchPtr b = MakeBatch({std::string(R"({"pad":")") + std::string(8000, 'x') + "\"}"}, &safe);
    if (!p.TryPush(b, [&] { woken++; })) {
      rejected = b;
      break;
    }
    ++accepted;
  }
  ASSERT_NE(rejected, nullptr) << "the queue never filled";
  EXPECT_LT(accepted, 20);
  EXPECT_LE(p.queued_bytes(), 64u * 1024 + 20000);
  blocking.Open();
  EXPECT_TRUE(testing::WaitFor([&] { return woken.load() >= 1; }));
  EXPECT_TRUE(p.TryPush(rejected, [] {}));
  EXPECT_TRUE(testing::WaitFor([&] { return safe.load() == accepted + 1; }));
  p.Drain(NowMs() + 1000);
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

TEST(PipelineTest, TrustedBatchesSkipParsingUnlessFieldsAreWanted) {
  for (bool want_field : {false, true}) {
    Fixture f;
    if (want_field) f.fields.Register("log.level");
    testing::CaptureSink s;
    struct Probe : BatchObserver {
      void Observe(const Batch& b) override {
        std::lock_guard<std::mutex> lock(mu);
        field_count = b.field_count();
        if (field_count) level = std::string(b.View(b.field(0, 0).span));
        ts = b.events()[0].timestamp_ms;
      }
      std::mutex mu;
      size_t field_count = 99;
      std::string level;
      int64_t ts = 0;
    } probe;
    Pipeline p({.workers = 1, .queue_max_bytes = 1 << 20}, &f.ctx, {&s}, {&probe});
    p.Start();
    std::atomic<int> safe{0};
    BatchPtr b = MakeBatch({R"({"@timestamp":"2026-11-21T05:30:59.285Z","log":{"level":"WARN"}})"}, &safe);
    b->trusted_json = true;
    b->events()[0].timestamp_ms = 1795239059285;
    b->events()[0].flags |= kEventHasTimestamp;
    ASSERT_TRUE(p.TryPush(b, [] {}));
    ASSERT_TRUE(testing::WaitFor([&] { return safe.load() == 1; }));
    std::lock_guard<std::mutex> lock(probe.mu);
    EXPECT_EQ(probe.field_count, want_field ? 1u : 0u);
    if (want_field) {
      EXPECT_EQ(probe.level, "WARN");
    }
    EXPECT_EQ(probe.ts, 1795239059285);
    EXPECT_EQ(s.docs().size(), 1u);
    p.Drain(NowMs() + 1000);
  }
}

// Prepare parses on the input's thread and shows the batch to the observers
// there; the sinks and observers must see exactly what a worker's parse
// gives, each batch once. A field registered after Prepare is still extracted
// for the sinks (the worker parses again); the observers saw the batch at
// Prepare, with the fields registered before the observer was published
// (a reload registers the new engine's fields first).
TEST(PipelineTest, PrepareOnTheInputThreadGivesTheWorkersResult) {
  struct Probe : BatchObserver {
    void Observe(const Batch& b) override {
      std::lock_guard<std::mutex> lock(mu);
      for (size_t i = 0; i < b.size(); ++i) {
        const Event& e = b.events()[i];
        std::string row = std::to_string(e.timestamp_ms) + "|" + std::to_string(e.flags) + "|" +
                          std::string(b.View(e.meta_id)) + "|" + std::string(b.DocHead(e)) +
                          std::string(b.DocTail(e));
        for (size_t f = 0; f < b.field_count(); ++f) {
          row += '|';
          row += b.View(b.field(i, f).span);
        }
        rows.push_back(row);
      }
    }
    std::mutex mu;
    std::vector<std::string> rows;
  };
  const std::vector<std::string> events = {
      R"({"@timestamp":"2026-11-21T05:30:59.285Z","@metadata":{"_id":"a1"},"log":{"level":"WARN"},"n":1})",
      R"({"log.level":"INFO","n":2})",
      R"({"broken":)",
      "{\n  \"log\": {\"level\": \"pretty\"}\n}",
  };
  auto run = [&](bool prepare, bool register_after_prepare) {
    Fixture f;
    f.fields.Register("log.level");
    testing::CaptureSink s;
    Probe probe;
    Pipeline p({.workers = 1, .queue_max_bytes = 1 << 20}, &f.ctx, {&s}, {&probe});
    p.Start();
    std::atomic<int> safe{0};
    BatchPtr b = MakeBatch(events, &safe);
    b->received_ms = 1795239000000;
    if (prepare) {
      p.Prepare(b.get());
      EXPECT_NE(b->parsed_generation, 0u);
      p.Prepare(b.get());  // again: nothing changes
    }
    if (register_after_prepare) f.fields.Register("n");
    EXPECT_TRUE(p.TryPush(b, [] {}));
    EXPECT_TRUE(testing::WaitFor([&] { return safe.load() == 1; }));
    p.Drain(NowMs() + 1000);
    EXPECT_EQ(f.dlq.written(), 1u);
    std::lock_guard<std::mutex> lock(probe.mu);
    return std::make_pair(probe.rows, s.docs());
  };
  const auto plain = run(false, false);
  ASSERT_EQ(plain.first.size(), 4u);
  EXPECT_EQ(run(true, false), plain);
  const auto late = run(true, true);
  const auto late_on_worker = run(false, true);
  EXPECT_EQ(late.second, late_on_worker.second);
  EXPECT_EQ(late.first, plain.first);  // observed at Prepare, before "n" was registered
  ASSERT_EQ(late_on_worker.first.size(), 4u);
  EXPECT_NE(late_on_worker.first[0].find("|WARN|1"), std::string::npos) << late_on_worker.first[0];
}

}  // namespace
}  // namespace sluice
