#pragma once
// An append-only, segmented record log on disk: the storage of the persisted
// queue (issue 6). Records carry a sequence number and a CRC-32; segments are
// fixed-size files `seg-<first seq>.log`; a checkpoint file remembers up to
// which sequence everything was delivered, and segments entirely below it are
// deleted. On open, a torn or corrupt tail is found by CRC, cut off and
// reported; a corrupt record in the middle of the log is skipped by scanning
// for the next valid record, and reported. Opening never fails because of
// damaged data, only because of I/O errors (unreadable directory).
//
// Record: u32 magic "SLQ1" | u32 payload length | u64 seq | u32 CRC-32 of
// (seq bytes + payload) | payload. All integers little-endian.
//
// Not thread-safe: the persisted queue serialises access.

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice {

struct DiskLogOptions {
  std::string dir;
  uint64_t segment_bytes = 64ull << 20;
  uint64_t max_bytes = 1ull << 30;  // Append refuses (ResourceExhausted) beyond this
  // Records from this sequence on are kept even once delivered (the
  // detectors' snapshot does not cover them yet: issue 6). 0: none kept.
  uint64_t retain_from = 0;
};

struct DiskLogRecovery {
  uint64_t records = 0;           // undelivered records found
  uint64_t torn_tail_bytes = 0;   // cut off the end of the last segment
  uint64_t corrupt_bytes = 0;     // skipped inside older segments
  uint64_t corrupt_records = 0;
  bool checkpoint_damaged = false;
  std::vector<std::string> messages;
};

class DiskLog {
 public:
  static absl::StatusOr<std::unique_ptr<DiskLog>> Open(DiskLogOptions opts, DiskLogRecovery* recovery);
  ~DiskLog();

  // Appends a record and returns its sequence number. On a full disk or past
  // max_bytes returns ResourceExhausted and leaves the log as it was.
  absl::StatusOr<uint64_t> Append(std::string_view payload);
  // Makes every appended record durable (fdatasync).
  absl::Status Sync();
  // Reads the first record with sequence >= `seq`. Returns false if there is none yet.
  absl::StatusOr<bool> Read(uint64_t seq, uint64_t* found_seq, std::string* payload);
  // Everything below `seq` is delivered: persist that and delete whole
  // segments below it and below the retained records.
  absl::Status Commit(uint64_t seq);
  // Delivered records from `seq` on stay readable (0: none); segments below
  // both this and the checkpoint are deleted.
  void SetRetainFrom(uint64_t seq);

  uint64_t committed() const { return committed_; }
  uint64_t next_seq() const { return next_seq_; }
  uint64_t bytes() const { return total_bytes_; }
  // The oldest record still readable (delivered ones kept by SetRetainFrom
  // included), or next_seq() if none.
  uint64_t first_readable() const { return index_.empty() ? next_seq_ : index_.front().seq; }
  size_t pending_records() const;  // not yet delivered
  size_t segments() const { return segments_.size(); }

 private:
  struct Segment {
    uint64_t first_seq;
    std::string path;
    int fd = -1;
    uint64_t size = 0;
  };
  struct RecordPos {
    uint64_t seq;
    size_t segment;  // index into segments_ (adjusted when front segments go)
    uint64_t offset;
    uint32_t length;
  };
  explicit DiskLog(DiskLogOptions opts) : opts_(std::move(opts)) {}
  absl::Status Recover(DiskLogRecovery* r);
  absl::Status ScanSegment(size_t si, bool last, DiskLogRecovery* r);
  absl::Status OpenNewSegment();
  void DropDeliveredSegments();
  uint64_t KeepFrom() const { return std::min(committed_, retain_from_); }
  absl::Status WriteCheckpoint();
  void ReadCheckpoint(DiskLogRecovery* r);

  DiskLogOptions opts_;
  std::vector<Segment> segments_;
  std::deque<RecordPos> index_;
  uint64_t next_seq_ = 1;
  uint64_t committed_ = 1;  // first sequence not yet delivered
  uint64_t retain_from_ = UINT64_MAX;  // delivered records kept from here (UINT64_MAX: none)
  uint64_t total_bytes_ = 0;
  size_t erased_segments_ = 0;  // segment indices in RecordPos are absolute; this is the offset
};

}  // namespace sluice
