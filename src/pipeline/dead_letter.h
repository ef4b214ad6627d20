#pragma once
// The dead-letter queue: NDJSON files under `<data_dir>/dlq/`, one record per
// event that could not be delivered, with the reason. Size-capped with
// rotation: when the current file passes `max_file_bytes` it is closed and a
// new one started; the oldest files are deleted past `max_total_bytes` (and
// counted as discarded, reason "dlq_full").
//
// Record: {"@timestamp":"...","component":"...","reason":"...","peer":"...",
//          "original":"<the event bytes as a JSON string>"}
// `original` is a string (not an embedded object) because a dead-lettered event
// is often not valid JSON.

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "common/metrics.h"

namespace sluice {

struct DeadLetterOptions {
  std::string dir;                         // <data_dir>/dlq
  uint64_t max_file_bytes = 64ull << 20;   // per file
  uint64_t max_total_bytes = 1ull << 30;   // all files
};

class DeadLetterQueue {
 public:
  DeadLetterQueue(DeadLetterOptions opts, MetricsRegistry* metrics);
  ~DeadLetterQueue();

  // Creates the directory; opens lazily on first write.
  absl::Status Open();
  // Thread-safe. Returns an error only if the record could not be written (the
  // caller then keeps the event for a retry).
  absl::Status Write(std::string_view component, std::string_view reason, std::string_view original,
                     std::string_view peer = "");
  absl::Status Flush();
  uint64_t written() const;
  const std::string& dir() const { return opts_.dir; }

 private:
  absl::Status RotateLocked();
  void EnforceTotalLocked();

  DeadLetterOptions opts_;
  ComponentMetrics metrics_;
  mutable std::mutex mu_;
  FILE* file_ = nullptr;
  std::string path_;
  uint64_t file_bytes_ = 0;
  uint64_t written_ = 0;
  uint64_t seq_ = 0;
};

}  // namespace sluice
