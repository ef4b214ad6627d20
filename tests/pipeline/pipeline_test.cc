#include "pipeline/pipeline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>

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
