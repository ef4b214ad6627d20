#include "ingest/beats/frame_decoder.h"

#include <libdeflate.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "common/json_util.h"
#include "common/strings.h"
#include "pipeline/prefetch.h"

namespace sluice::beats {
namespace {

uint32_t Be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

// Bytes of the fixed header of each frame type, version and type bytes included.
constexpr uint32_t kWindowHeader = 6;      // '2' 'W' u32 count
constexpr uint32_t kJsonHeader = 10;       // '2' 'J' u32 seq u32 len
constexpr uint32_t kCompressedHeader = 6;  // '2' 'C' u32 len
constexpr uint32_t kDataHeader = 10;       // '1' 'D' u32 seq u32 pairs

// simdjson reads up to 64 bytes past an event (SIMDJSON_PADDING); the pipeline
// reserves them before parsing. Reserving them here up front saves it a copy of
// the whole arena.
constexpr size_t kParserPadding = 64;

// A window's arena is reserved 1/kArenaSpareFraction larger than the
// previous window's events would need.
constexpr uint64_t kArenaSpareFraction = 8;

// First guess of a C frame's inflated size when there is no previous frame to
// go by; JSON log lines typically deflate 5-10x.
constexpr size_t kInflateRatioGuess = 8;
constexpr size_t kMinInflateBuffer = 64 << 10;
// Buffers above this are freed after use, so an idle connection that once got
// a huge frame does not keep the memory.
constexpr size_t kKeepBufferBytes = 16 << 20;

std::string PrintableType(char t) {
  unsigned char u = static_cast<unsigned char>(t);
  if (u >= 0x21 && u < 0x7f) return StrCat("'", t, "'");
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", u);
  return buf;
}

}  // namespace

FrameDecoder::FrameDecoder(const FrameDecoderLimits& limits)
    : limits_(limits), inflater_(libdeflate_alloc_decompressor()) {}

FrameDecoder::~FrameDecoder() {
  if (inflater_) libdeflate_free_decompressor(inflater_);
}

absl::Status FrameDecoder::Fail(std::string_view reason, std::string message) {
  error_reason_ = reason;
  return absl::InvalidArgumentError(StrCat(reason, ": ", message));
}

absl::Status FrameDecoder::Feed(std::string_view data, std::vector<DecodedWindow>* out) {
  if (!error_reason_.empty()) return absl::FailedPreconditionError("decoder already failed");
  out_ = out;
  absl::Status s = Run(outer_, data.data(), data.data() + data.size(), 0);
  out_ = nullptr;
  return s;
}

const char* FrameDecoder::TakeWholeJsonFrames(const char* p, const char* end) {
  std::string& arena = batch_->arena();
  std::vector<Event>& events = batch_->events();
  while (static_cast<size_t>(end - p) >= kJsonHeader && p[1] == 'J' && (p[0] == '2' || p[0] == '1')) {
    const uint32_t len = Be32(p + 6);
    // Anything else (the payload cut by the chunk's end, a limit exceeded)
    // is left to the byte-wise path, which takes or reports it.
    if (static_cast<size_t>(end - p) - kJsonHeader < len || len > limits_.max_frame_bytes ||
        arena.size() + len > limits_.max_window_bytes) {
      break;
    }
    max_seq_ = std::max(max_seq_, Be32(p + 2));
    if (arena.size() + kPrefetchAheadBytes + len <= arena.capacity()) {
      PrefetchForWrite(arena.data() + arena.size() + kPrefetchAheadBytes, len);
    }
    Event& e = events.emplace_back();
    e.offset = static_cast<uint32_t>(arena.size());
    e.length = len;
    arena.append(p + kJsonHeader, len);
    p += kJsonHeader + len;
    if (++received_ == announced_) {
      CompleteWindow(true);
      break;
    }
  }
  return p;
}

absl::Status FrameDecoder::Run(Cursor& c, const char* p, const char* end, int depth) {
  while (p < end) {
    if (c.step == Step::kHeader && c.have == 0 && batch_) {
      // Nearly every frame of a window is a J frame whole in the chunk.
      p = TakeWholeJsonFrames(p, end);
      if (p == end) break;
    }
    switch (c.step) {
      case Step::kHeader: {
        // Headers are at most 10 bytes: always gathering them in `hdr` keeps one
        // code path for headers split across chunks.
        size_t take = std::min<size_t>(c.need - c.have, end - p);
        std::memcpy(c.hdr + c.have, p, take);
        c.have += static_cast<uint32_t>(take);
        p += take;
        if (c.have < c.need) break;
        if (c.need == 2) {
          if (c.hdr[0] != '2' && c.hdr[0] != '1') {
            return Fail(reason::kBadVersion, StrCat("version byte ", PrintableType(c.hdr[0]), ", expected '2' or '1'"));
          }
          switch (c.hdr[1]) {
            case 'W': c.need = kWindowHeader; break;
            case 'J': c.need = kJsonHeader; break;
            case 'C': c.need = kCompressedHeader; break;
            case 'D': c.need = kDataHeader; break;
            default:
              return Fail(reason::kUnknownFrameType, StrCat("frame type ", PrintableType(c.hdr[1])));
          }
          break;
        }
        if (auto s = OnHeader(c, depth); !s.ok()) return s;
        break;
      }
      case Step::kJPayload: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(c.remaining, end - p));
        batch_->arena().append(p, take);
        p += take;
        c.remaining -= take;
        if (c.remaining == 0) {
          c.step = Step::kHeader;
          FinishEvent();
        }
        break;
      }
      case Step::kCPayload: {
        size_t avail = end - p;
        if (compressed_.empty() && avail >= c.remaining) {
          // The whole payload is in this chunk: inflate it in place, no copy.
          const char* in = p;
          size_t n = static_cast<size_t>(c.remaining);
          p += n;
          c.remaining = 0;
          c.step = Step::kHeader;
          if (auto s = Inflate(in, n); !s.ok()) return s;
          break;
        }
        size_t take = static_cast<size_t>(std::min<uint64_t>(c.remaining, avail));
        compressed_.append(p, take);
        p += take;
        c.remaining -= take;
        if (c.remaining == 0) {
          c.step = Step::kHeader;
          absl::Status s = Inflate(compressed_.data(), compressed_.size());
          if (compressed_.capacity() > kKeepBufferBytes) {
            std::string().swap(compressed_);
          } else {
            compressed_.clear();
          }
          if (!s.ok()) return s;
        }
        break;
      }
      case Step::kDLength: {
        size_t take = std::min<size_t>(c.need - c.have, end - p);
        std::memcpy(c.hdr + c.have, p, take);
        c.have += static_cast<uint32_t>(take);
        p += take;
        if (c.have < c.need) break;
        c.have = 0;
        c.need = 2;
        uint32_t len = Be32(c.hdr);
        if (len > limits_.max_frame_bytes) {
          return Fail(reason::kFrameTooLarge,
                      StrCat("v1 data frame string of ", len, " bytes, limit ", limits_.max_frame_bytes));
        }
        if (batch_->arena().size() + len > limits_.max_window_bytes) {
          return Fail(reason::kWindowBytesTooLarge,
                      StrCat("window events exceed ", limits_.max_window_bytes, " bytes"));
        }
        c.remaining = len;
        c.step = Step::kDString;
        scratch_.clear();
        if (len == 0) {
          if (auto s = FinishDString(c); !s.ok()) return s;
        }
        break;
      }
      case Step::kDString: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(c.remaining, end - p));
        scratch_.append(p, take);
        p += take;
        c.remaining -= take;
        if (c.remaining == 0) {
          if (auto s = FinishDString(c); !s.ok()) return s;
        }
        break;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status FrameDecoder::OnHeader(Cursor& c, int depth) {
  const char version = c.hdr[0];
  const char type = c.hdr[1];
  c.have = 0;
  c.need = 2;
  switch (type) {
    case 'W': {
      if (depth > 0) return Fail(reason::kUnexpectedFrameInCompressed, "window frame inside a compressed frame");
      uint32_t count = Be32(c.hdr + 2);
      if (count > limits_.max_window_size) {
        return Fail(reason::kWindowTooLarge, StrCat("window of ", count, " events, limit ", limits_.max_window_size));
      }
      // A new window before the previous one completed: logstash-input-beats
      // forwards what it got and ACKs it; we do the same (see DecodedWindow::complete).
      if (batch_) {
        ++incomplete_windows_;
        CompleteWindow(false);
      }
      StartWindow(count, version);
      if (count == 0) CompleteWindow(true);
      return absl::OkStatus();
    }
    case 'J': {
      uint32_t seq = Be32(c.hdr + 2);
      uint32_t len = Be32(c.hdr + 6);
      if (len > limits_.max_frame_bytes) {
        return Fail(reason::kFrameTooLarge, StrCat("JSON frame of ", len, " bytes, limit ", limits_.max_frame_bytes));
      }
      if (auto s = StartEvent(seq, len); !s.ok()) return s;
      if (len == 0) {
        FinishEvent();
      } else {
        c.remaining = len;
        c.step = Step::kJPayload;
      }
      return absl::OkStatus();
    }
    case 'C': {
      if (depth > 0) return Fail(reason::kUnexpectedFrameInCompressed, "compressed frame inside a compressed frame");
      uint32_t len = Be32(c.hdr + 2);
      if (len > limits_.max_frame_bytes) {
        return Fail(reason::kFrameTooLarge,
                    StrCat("compressed frame of ", len, " bytes, limit ", limits_.max_frame_bytes));
      }
      // Only events can be inside, and events need an open window.
      if (!batch_) return Fail(reason::kFrameOutsideWindow, "compressed frame outside a window (no W frame)");
      if (len == 0) return Fail(reason::kCorruptZlib, "empty compressed frame");
      c.remaining = len;
      c.step = Step::kCPayload;
      return absl::OkStatus();
    }
    case 'D': {
      uint32_t seq = Be32(c.hdr + 2);
      uint32_t pairs = Be32(c.hdr + 6);
      if (auto s = StartEvent(seq, 2); !s.ok()) return s;
      batch_->arena().push_back('{');
      if (pairs == 0) {
        batch_->arena().push_back('}');
        FinishEvent();
        return absl::OkStatus();
      }
      c.pairs_left = pairs;
      c.is_value = false;
      c.need = 4;
      c.step = Step::kDLength;
      return absl::OkStatus();
    }
  }
  return Fail(reason::kUnknownFrameType, StrCat("frame type ", PrintableType(type)));
}

absl::Status FrameDecoder::FinishDString(Cursor& c) {
  std::string& a = batch_->arena();
  // Escaping can make the string longer than it was on the wire.
  if (a.size() + scratch_.size() * 6 + 8 > limits_.max_window_bytes) {
    size_t before = a.size();
    AppendJsonString(scratch_, &a);
    bool over = a.size() + 2 > limits_.max_window_bytes;
    a.resize(before);
    if (over) {
      return Fail(reason::kWindowBytesTooLarge, StrCat("window events exceed ", limits_.max_window_bytes, " bytes"));
    }
  }
  if (!c.is_value) {
    if (a.back() != '{') a.push_back(',');
    AppendJsonString(scratch_, &a);
    a.push_back(':');
    c.is_value = true;
    c.step = Step::kDLength;
    c.need = 4;
    return absl::OkStatus();
  }
  AppendJsonString(scratch_, &a);
  c.is_value = false;
  if (--c.pairs_left == 0) {
    a.push_back('}');
    c.step = Step::kHeader;
    c.need = 2;
    FinishEvent();
  } else {
    c.step = Step::kDLength;
    c.need = 4;
  }
  return absl::OkStatus();
}

absl::Status FrameDecoder::StartEvent(uint32_t seq, uint64_t bytes) {
  if (!batch_) return Fail(reason::kFrameOutsideWindow, "event frame outside a window (no W frame, or more events than announced)");
  if (batch_->arena().size() + bytes > limits_.max_window_bytes) {
    return Fail(reason::kWindowBytesTooLarge, StrCat("window events exceed ", limits_.max_window_bytes, " bytes"));
  }
  max_seq_ = std::max(max_seq_, seq);
  event_offset_ = static_cast<uint32_t>(batch_->arena().size());
  return absl::OkStatus();
}

void FrameDecoder::FinishEvent() {
  Event e;
  e.offset = event_offset_;
  e.length = static_cast<uint32_t>(batch_->arena().size() - event_offset_);
  batch_->events().push_back(e);
  if (++received_ == announced_) CompleteWindow(true);
}

void FrameDecoder::StartWindow(uint32_t count, char version) {
  batch_ = std::make_shared<Batch>();
  announced_ = count;
  received_ = 0;
  max_seq_ = 0;
  version_ = version;
  if (count == 0) return;
  batch_->events().reserve(count);
  // Windows of one connection look alike: size the arena from the previous
  // one so appending the events does not reallocate it again and again. With
  // room to spare: a window only a little larger than the one before (1 in 8
  // of run_beats.sh's, by 0.3%) otherwise outgrew its arena, and the string
  // doubled it, copying the window's first megabyte again.
  if (avg_event_bytes_ > 0) {
    const uint64_t expected = uint64_t{avg_event_bytes_} * count;
    uint64_t guess = std::min<uint64_t>(expected + expected / kArenaSpareFraction, limits_.max_window_bytes);
    batch_->arena().reserve(static_cast<size_t>(guess) + kParserPadding);
  }
}

void FrameDecoder::CompleteWindow(bool complete) {
  DecodedWindow w;
  if (!batch_->events().empty()) {
    avg_event_bytes_ = static_cast<uint32_t>(batch_->arena().size() / batch_->events().size() + 1);
  }
  w.batch = std::move(batch_);
  w.ack_seq = std::min(max_seq_, announced_);
  w.announced = announced_;
  w.version = version_;
  w.complete = complete;
  batch_ = nullptr;
  out_->push_back(std::move(w));
}

absl::Status FrameDecoder::Inflate(const char* in, size_t n) {
  if (!inflater_) return Fail(reason::kCorruptZlib, "cannot allocate a zlib decompressor");
  const size_t cap = static_cast<size_t>(limits_.max_inflated_bytes);
  // libdeflate inflates in one call into a buffer that must be large enough:
  // guess from the previous frame (windows of one connection look alike) and
  // double on LIBDEFLATE_INSUFFICIENT_SPACE, up to the limit.
  size_t want = last_inflated_bytes_ > 0 ? last_inflated_bytes_ + last_inflated_bytes_ / 4 : n * kInflateRatioGuess;
  want = std::min(std::max({want, kMinInflateBuffer, inflated_capacity_}), cap);
  size_t actual = 0;
  for (;;) {
    if (inflated_capacity_ < want) {
      inflated_.reset(new char[want]);  // not value-initialised: no memset of the whole buffer
      inflated_capacity_ = want;
    }
    libdeflate_result r =
        libdeflate_zlib_decompress(inflater_, in, n, inflated_.get(), inflated_capacity_, &actual);
    if (r == LIBDEFLATE_SUCCESS) break;
    if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
      if (inflated_capacity_ >= cap) {
        return Fail(reason::kInflatedTooLarge,
                    StrCat("compressed frame inflates to more than ", limits_.max_inflated_bytes, " bytes"));
      }
      want = std::min(inflated_capacity_ * 2, cap);
      continue;
    }
    return Fail(reason::kCorruptZlib, StrCat("compressed frame of ", n, " bytes is not a valid zlib stream"));
  }
  last_inflated_bytes_ = actual;
  if (batch_ && batch_->arena().capacity() < batch_->arena().size() + actual) {
    batch_->arena().reserve(batch_->arena().size() + actual + kParserPadding);
  }
  Cursor inner;
  absl::Status s = Run(inner, inflated_.get(), inflated_.get() + actual, 1);
  if (s.ok() && (inner.step != Step::kHeader || inner.have != 0)) {
    s = Fail(reason::kTruncatedCompressedFrame, "compressed frame ends inside a frame");
  }
  if (inflated_capacity_ > kKeepBufferBytes) {
    inflated_.reset();
    inflated_capacity_ = 0;
  }
  return s;
}

}  // namespace sluice::beats
