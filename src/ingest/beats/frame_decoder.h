#pragma once
// Incremental decoder of the Lumberjack v2 client stream (PROTOCOLS.md §1).
//
// Bytes are fed in chunks of any size; a stream split at every byte boundary
// decodes exactly like the whole stream. Each window (`W` frame) becomes one
// Batch; `J` payloads are copied once, straight from the fed chunk (or from the
// inflater's output for `C` frames) into the batch arena. Lumberjack v1 `D`
// key/value frames become a JSON object of strings.
//
// The decoder enforces the configured limits and reports the first protocol
// error; after an error it must not be fed again (the connection is closed:
// the protocol has no error frame).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "pipeline/batch.h"

struct libdeflate_decompressor;

namespace sluice::beats {

struct FrameDecoderLimits {
  uint32_t max_window_size = 10000;           // events announced by one W frame
  uint64_t max_frame_bytes = 64ull << 20;     // J payload, C payload, one v1 D key or value
  uint64_t max_inflated_bytes = 256ull << 20; // what one C frame inflates to
  uint64_t max_window_bytes = 256ull << 20;   // event bytes of one window (the batch arena)
};

// A window read from the stream, ready to be pushed to the pipeline.
struct DecodedWindow {
  BatchPtr batch;           // its events (possibly none)
  uint32_t ack_seq = 0;     // value to ACK: the highest seq seen, never above the announced count
  uint32_t announced = 0;   // N from the W frame
  char version = '2';       // the W frame's version byte; the ACK echoes it
  bool complete = true;     // false: cut short by a new W frame (forwarded anyway, like logstash)
};

// Why decoding stopped. The names are the `reason` label of the errors metric.
namespace reason {
inline constexpr std::string_view kBadVersion = "bad_version";
inline constexpr std::string_view kUnknownFrameType = "unknown_frame_type";
inline constexpr std::string_view kFrameTooLarge = "frame_too_large";
inline constexpr std::string_view kWindowTooLarge = "window_too_large";
inline constexpr std::string_view kWindowBytesTooLarge = "window_bytes_too_large";
inline constexpr std::string_view kCorruptZlib = "corrupt_zlib";
inline constexpr std::string_view kInflatedTooLarge = "inflated_too_large";
inline constexpr std::string_view kTruncatedCompressedFrame = "truncated_compressed_frame";
inline constexpr std::string_view kFrameOutsideWindow = "frame_outside_window";
inline constexpr std::string_view kUnexpectedFrameInCompressed = "unexpected_frame_in_compressed";
}  // namespace reason

class FrameDecoder {
 public:
  explicit FrameDecoder(const FrameDecoderLimits& limits);
  ~FrameDecoder();
  FrameDecoder(const FrameDecoder&) = delete;
  FrameDecoder& operator=(const FrameDecoder&) = delete;

  // Decodes `data`, appending every window completed by it to `*out`. On a
  // protocol error returns a non-OK status (error_reason() says which); windows
  // completed earlier in the same chunk are still in `*out`.
  absl::Status Feed(std::string_view data, std::vector<DecodedWindow>* out);

  // The metric reason of the error Feed returned.
  std::string_view error_reason() const { return error_reason_; }
  // True while a window has been announced and not all of its events arrived.
  bool in_window() const { return batch_ != nullptr; }
  // Windows that a new W frame cut short (see DecodedWindow::complete).
  uint64_t incomplete_windows() const { return incomplete_windows_; }

 private:
  enum class Step : uint8_t { kHeader, kJPayload, kCPayload, kDLength, kDString };
  // Where a byte source (the socket stream, or one inflated C payload) is in its frame.
  struct Cursor {
    Step step = Step::kHeader;
    uint32_t have = 0;  // bytes in hdr
    uint32_t need = 2;  // bytes the current header needs
    char hdr[12];
    uint64_t remaining = 0;  // payload bytes still to come
    // v1 D frame state.
    uint32_t pairs_left = 0;
    bool is_value = false;
  };

  absl::Status Run(Cursor& c, const char* p, const char* end, int depth);
  absl::Status OnHeader(Cursor& c, int depth);
  absl::Status Inflate(const char* in, size_t n);
  // Takes the J frames at p that lie whole in [p, end), while the window
  // expects more events, without the byte-wise state machine (micro_bench
  // BM_FrameDecode); stops before anything else. Returns the position past them.
  const char* TakeWholeJsonFrames(const char* p, const char* end);
  absl::Status StartEvent(uint32_t seq, uint64_t bytes);
  void FinishEvent();
  void StartWindow(uint32_t count, char version);
  void CompleteWindow(bool complete);
  absl::Status FinishDString(Cursor& c);
  absl::Status Fail(std::string_view reason, std::string message);

  const FrameDecoderLimits limits_;
  Cursor outer_;
  std::vector<DecodedWindow>* out_ = nullptr;

  // The window being read.
  BatchPtr batch_;
  uint32_t announced_ = 0;
  uint32_t received_ = 0;
  uint32_t max_seq_ = 0;
  char version_ = '2';
  uint32_t event_offset_ = 0;  // arena offset of the event being read
  uint32_t avg_event_bytes_ = 0;  // of the previous window: arena reservation hint

  // C frames: the compressed bytes when they span chunks, and the inflater output.
  std::string compressed_;
  libdeflate_decompressor* inflater_ = nullptr;
  std::unique_ptr<char[]> inflated_;
  size_t inflated_capacity_ = 0;
  size_t last_inflated_bytes_ = 0;

  std::string scratch_;  // one v1 D key or value
  std::string_view error_reason_;
  uint64_t incomplete_windows_ = 0;
};

}  // namespace sluice::beats
