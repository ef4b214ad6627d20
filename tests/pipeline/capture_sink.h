#pragma once
// A Sink for tests: records every document it receives; can hold batches
// (not release them) to simulate a slow destination.

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "pipeline/component.h"

namespace sluice::testing {

class CaptureSink : public Sink {
 public:
  std::string_view name() const override { return "capture"; }
  absl::Status Start() override { return absl::OkStatus(); }
  void Submit(BatchPtr batch) override {
    std::unique_lock<std::mutex> lock(mu_);
    for (const Event& e : batch->events()) {
      if (e.flags & kEventInvalid) continue;
      docs_.push_back(std::string(batch->DocHead(e)) + std::string(batch->DocTail(e)));
    }
    if (hold_) {
      held_.push_back(std::move(batch));
      return;
    }
    lock.unlock();
    batch->Release();
  }
  void Stop(int64_t) override {}

  void SetHold(bool hold) {
    std::vector<BatchPtr> release;
    {
      std::lock_guard<std::mutex> lock(mu_);
      hold_ = hold;
      if (!hold) release.swap(held_);
    }
    for (auto& b : release) b->Release();
  }
  std::vector<std::string> docs() {
    std::lock_guard<std::mutex> lock(mu_);
    return docs_;
  }
  size_t held() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_.size();
  }

 private:
  std::mutex mu_;
  bool hold_ = false;
  std::vector<BatchPtr> held_;
  std::vector<std::string> docs_;
};

}  // namespace sluice::testing
