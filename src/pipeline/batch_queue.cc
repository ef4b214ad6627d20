#include "pipeline/batch_queue.h"

#include <chrono>

namespace sluice {

bool BatchQueue::TryPush(BatchPtr& batch, std::function<void()> on_space) {
  const uint64_t b = batch->MemoryBytes();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_ && FitsLocked(b)) {
      items_.emplace_back(std::move(batch), b);
      bytes_ += b;
      not_empty_.notify_one();
      return true;
    }
    if (!closed_) {
      waiters_.push_back(std::move(on_space));
      return false;
    }
  }
  return false;  // closed: the caller keeps the batch and never ACKs it
}

bool BatchQueue::Push(BatchPtr batch) {
  const uint64_t b = batch->MemoryBytes();
  std::unique_lock<std::mutex> lock(mu_);
  not_full_.wait(lock, [&] { return closed_ || FitsLocked(b); });
  if (closed_) return false;
  items_.emplace_back(std::move(batch), b);
  bytes_ += b;
  not_empty_.notify_one();
  return true;
}

void BatchQueue::AfterPopLocked(std::vector<std::function<void()>>* wake) {
  not_full_.notify_all();
  if (items_.empty()) empty_.notify_all();
  wake->swap(waiters_);
}

bool BatchQueue::Pop(BatchPtr* out) {
  std::vector<std::function<void()>> wake;
  {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return false;
    *out = std::move(items_.front().first);
    bytes_ -= items_.front().second;
    items_.pop_front();
    AfterPopLocked(&wake);
  }
  for (auto& w : wake) w();
  return true;
}

void BatchQueue::Close() {
  std::vector<std::function<void()>> wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    wake.swap(waiters_);
  }
  not_empty_.notify_all();
  not_full_.notify_all();
  empty_.notify_all();
  for (auto& w : wake) w();
}

uint64_t BatchQueue::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

size_t BatchQueue::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return items_.size();
}

bool BatchQueue::WaitEmpty(int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return empty_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return items_.empty(); });
}

}  // namespace sluice
