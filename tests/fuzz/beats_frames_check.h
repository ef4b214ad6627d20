#pragma once
// The property the Lumberjack frame fuzzer checks, shared with the gtest that
// replays the checked-in corpus (tests/ingest/beats/corpus_replay_test.cc).
//
// Input layout: byte 0 picks a chunk size (1..256), the rest is the client
// stream. The stream is decoded whole and again in chunks of that size; both
// decodings must agree exactly (same windows, events, ACK values, and the same
// error reason at the end), and the decoder must never crash or over-read.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/beats/frame_decoder.h"

namespace sluice::beats::fuzz {

struct Decoding {
  std::vector<std::string> summary;  // one line per window and per event
  std::string error;
  bool operator==(const Decoding&) const = default;
};

inline Decoding DecodeInChunks(std::string_view stream, size_t chunk, const FrameDecoderLimits& limits) {
  FrameDecoder dec(limits);
  Decoding d;
  std::vector<DecodedWindow> out;
  for (size_t off = 0; off < stream.size(); off += chunk) {
    absl::Status s = dec.Feed(stream.substr(off, chunk), &out);
    for (auto& w : out) {
      d.summary.push_back("W " + std::to_string(w.announced) + " ack " + std::to_string(w.ack_seq) + " v" +
                          w.version + (w.complete ? "" : " cut"));
      if (w.ack_seq > w.announced) std::abort();
      for (const Event& e : w.batch->events()) d.summary.emplace_back(w.batch->Raw(e));
    }
    out.clear();
    if (!s.ok()) {
      d.error = std::string(dec.error_reason());
      break;
    }
  }
  return d;
}

// Small limits so the fuzzer reaches them.
inline FrameDecoderLimits FuzzLimits() {
  FrameDecoderLimits l;
  l.max_window_size = 1000;
  l.max_frame_bytes = 1 << 20;
  l.max_inflated_bytes = 4 << 20;
  l.max_window_bytes = 8 << 20;
  return l;
}

// Returns true if the property holds.
inline bool CheckOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return true;
  const size_t chunk = size_t{data[0]} + 1;
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  const FrameDecoderLimits limits = FuzzLimits();
  Decoding whole = DecodeInChunks(stream, stream.size() + 1, limits);
  Decoding split = DecodeInChunks(stream, chunk, limits);
  return whole == split;
}

}  // namespace sluice::beats::fuzz
