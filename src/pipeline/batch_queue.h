#pragma once
// A queue of batches bounded in bytes (Batch::MemoryBytes). Producers either
// try and get called back when there is room (network inputs, which must keep
// serving heartbeats while they wait) or block (pipeline workers feeding a
// sink). A batch larger than the whole bound is still accepted when the queue
// is empty, so nothing can wedge.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "pipeline/batch.h"

namespace sluice {

class BatchQueue {
 public:
  explicit BatchQueue(uint64_t max_bytes) : max_bytes_(max_bytes) {}

  // Takes the batch if it fits. Otherwise keeps `on_space` and calls it once,
  // from the consumer's thread, after the next Pop; returns false.
  bool TryPush(BatchPtr& batch, std::function<void()> on_space);
  // Blocks until the batch fits or the queue is closed (returns false then).
  bool Push(BatchPtr batch);
  // Blocks until a batch is available; false once closed and empty.
  bool Pop(BatchPtr* out);
  // Wakes everyone; Push fails from now on, Pop drains what is left.
  void Close();

  uint64_t bytes() const;
  size_t size() const;
  uint64_t max_bytes() const { return max_bytes_; }
  // Blocks until the queue is empty or `timeout_ms` passes; true if empty.
  bool WaitEmpty(int64_t timeout_ms);

 private:
  bool FitsLocked(uint64_t b) const { return items_.empty() || bytes_ + b <= max_bytes_; }
  void AfterPopLocked(std::vector<std::function<void()>>* wake);

  const uint64_t max_bytes_;
  mutable std::mutex mu_;
  std::condition_variable not_empty_, not_full_, empty_;
  std::deque<std::pair<BatchPtr, uint64_t>> items_;
  uint64_t bytes_ = 0;
  bool closed_ = false;
  std::vector<std::function<void()>> waiters_;
};

}  // namespace sluice
