#include "pipeline/batch_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/test_util.h"

namespace sluice {
namespace {

BatchPtr MakeBatch(size_t bytes) {
  auto b = std::make_shared<Batch>();
  b->Append(std::string(bytes, 'x'));
  return b;
}

TEST(BatchQueueTest, BoundedInBytesWithWakeups) {
  BatchQueue q(100'000);
  BatchPtr a = MakeBatch(60'000);
  std::atomic<int> woken{0};
  ASSERT_TRUE(q.TryPush(a, [&] { woken++; }));
  BatchPtr b = MakeBatch(60'000);
  EXPECT_FALSE(q.TryPush(b, [&] { woken++; }));
  EXPECT_NE(b, nullptr);  // still the caller's
  EXPECT_EQ(woken.load(), 0);
  BatchPtr out;
  ASSERT_TRUE(q.Pop(&out));
  EXPECT_EQ(woken.load(), 1);
  EXPECT_TRUE(q.TryPush(b, [&] { woken++; }));
  EXPECT_EQ(q.size(), 1u);
}

TEST(BatchQueueTest, OversizedBatchIsAcceptedWhenEmpty) {
  BatchQueue q(1000);
  BatchPtr big = MakeBatch(10'000);
  EXPECT_TRUE(q.TryPush(big, [] {}));
}

TEST(BatchQueueTest, BlockingPushWaitsForRoom) {
  BatchQueue q(100'000);
  ASSERT_TRUE(q.Push(MakeBatch(60'000)));
  std::atomic<bool> pushed{false};
  std::thread t([&] {
    q.Push(MakeBatch(60'000));
    pushed = true;
  });
  EXPECT_FALSE(testing::WaitFor([&] { return pushed.load(); }, std::chrono::milliseconds(100)));
  BatchPtr out;
  ASSERT_TRUE(q.Pop(&out));
  EXPECT_TRUE(testing::WaitFor([&] { return pushed.load(); }));
  t.join();
}

TEST(BatchQueueTest, CloseDrainsThenStops) {
  BatchQueue q(1 << 20);
  ASSERT_TRUE(q.Push(MakeBatch(10)));
  q.Close();
  BatchPtr out;
  EXPECT_TRUE(q.Pop(&out));
  EXPECT_FALSE(q.Pop(&out));
  EXPECT_FALSE(q.Push(MakeBatch(10)));
}

}  // namespace
}  // namespace sluice
