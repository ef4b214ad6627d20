#pragma once
// RFC 6587 framing of a syslog TCP (or TLS) byte stream, detected per frame as
// rsyslog's imtcp does: a first byte `1`-`9` followed by digits and a space is
// an octet count (`LEN SP MSG`); anything else is non-transparent framing,
// ended by LF or NUL (a CR before the LF is removed by the parser). Memory is
// bounded: a frame longer than max_message_bytes is cut there (the first
// max_message_bytes are delivered, flagged truncated) and the rest of it is
// skipped as it arrives, so the caller never needs to hold more than
// max_message_bytes + 11 unconsumed bytes.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace sluice::syslog {

class FrameSplitter {
 public:
  // Octet counts above max(max_message_bytes, 200000) are not trusted (rsyslog's
  // maxFrameSize): the frame is read as LF-framed instead.
  explicit FrameSplitter(size_t max_message_bytes)
      : max_(max_message_bytes), count_limit_(max_message_bytes > 200000 ? max_message_bytes : 200000) {}

  // Calls `on_frame(std::string_view frame, bool truncated)` for each complete
  // frame at the start of `data`; `on_frame` returns false to stop early.
  // Returns how many bytes were consumed: the caller passes the rest again,
  // followed by more bytes. Frames point into `data`.
  template <typename OnFrame>
  size_t Split(std::string_view data, OnFrame&& on_frame);

  // End of stream: delivers what is left of an unfinished frame (flagged
  // truncated if it was octet-counted and cut short).
  template <typename OnFrame>
  void Finish(std::string_view rest, OnFrame&& on_frame);

  // Longest unconsumed tail Split can leave.
  size_t max_pending() const { return max_ + 11; }

  // First LF or NUL in data[from, end), or npos. One pass, 32 bytes a step
  // (it was a memchr for LF and a second one for NUL over the line).
  static size_t FindTrailer(std::string_view data, size_t from);

 private:
  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }

  size_t max_;
  size_t count_limit_;
  uint64_t skip_ = 0;          // bytes of an oversized octet-counted frame still to drop
  bool discard_line_ = false;  // dropping the rest of an oversized LF-framed line
};

template <typename OnFrame>
size_t FrameSplitter::Split(std::string_view data, OnFrame&& on_frame) {
  const size_t n = data.size();
  size_t p = 0;
  while (p < n) {
    if (skip_ > 0) {
      size_t k = skip_ < n - p ? static_cast<size_t>(skip_) : n - p;
      p += k;
      skip_ -= k;
      continue;
    }
    if (discard_line_) {
      size_t end = FindTrailer(data, p);
      if (end == std::string_view::npos) return n;
      p = end + 1;
      discard_line_ = false;
      continue;
    }
    const char c = data[p];
    if (c == '\n' || c == '\r' || c == '\0') {  // stray trailer bytes between frames
      ++p;
      continue;
    }
    if (c >= '1' && c <= '9') {
      size_t q = p;
      uint64_t len = 0;
      while (q < n && q - p < 10 && IsDigit(data[q])) len = len * 10 + static_cast<uint64_t>(data[q++] - '0');
      if (q == n && q - p < 10) return p;  // the count may go on: wait for more
      if (q < n && data[q] == ' ' && len <= count_limit_) {
        const size_t body = q + 1;
        if (len <= max_) {
          if (n - body < len) return p;
          bool more = on_frame(data.substr(body, len), false);
          p = body + len;
          if (!more) return p;
          continue;
        }
        if (n - body < max_) return p;
        bool more = on_frame(data.substr(body, max_), true);
        skip_ = len - max_;
        p = body + max_;
        if (!more) return p;
        continue;
      }
      // Not a valid count: the frame is LF-framed.
    }
    size_t end = FindTrailer(data, p);
    if (end == std::string_view::npos) {
      if (n - p <= max_) return p;
      bool more = on_frame(data.substr(p, max_), true);
      p += max_;
      discard_line_ = true;
      if (!more) return p;
      continue;
    }
    bool more = end - p > max_ ? on_frame(data.substr(p, max_), true) : on_frame(data.substr(p, end - p), false);
    p = end + 1;
    if (!more) return p;
  }
  return p;
}

template <typename OnFrame>
void FrameSplitter::Finish(std::string_view rest, OnFrame&& on_frame) {
  if (skip_ > 0 || discard_line_) return;
  size_t p = 0;
  while (p < rest.size() && (rest[p] == '\n' || rest[p] == '\r' || rest[p] == '\0')) ++p;
  rest.remove_prefix(p);
  if (rest.empty()) return;
  if (rest[0] >= '1' && rest[0] <= '9') {
    size_t q = 0;
    while (q < rest.size() && IsDigit(rest[q])) ++q;
    if (q < rest.size() && q <= 10 && rest[q] == ' ') {
      on_frame(rest.substr(q + 1), true);  // octet-counted frame cut short by the close
      return;
    }
  }
  on_frame(rest.size() > max_ ? rest.substr(0, max_) : rest, rest.size() > max_);
}

}  // namespace sluice::syslog
