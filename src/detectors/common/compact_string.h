#pragma once
// A 16-byte string for per-group label values: up to 15 bytes inline, longer
// ones on the heap. std::string is 32 bytes (and still allocates above 15),
// which made it the largest field of a group's state
// (tests/detectors/state_size_test.cc).

#include <cstdint>
#include <cstring>
#include <string_view>

namespace sluice::detectors {

class CompactString {
 public:
  CompactString() { buf_[kInline] = 0; }
  ~CompactString() { Free(); }
  CompactString(const CompactString& o) : CompactString() { Assign(o.view()); }
  CompactString& operator=(const CompactString& o) {
    if (this != &o) Assign(o.view());
    return *this;
  }
  CompactString(CompactString&& o) noexcept {
    std::memcpy(buf_, o.buf_, sizeof buf_);
    o.buf_[kInline] = 0;
  }
  CompactString& operator=(CompactString&& o) noexcept {
    if (this != &o) {
      Free();
      std::memcpy(buf_, o.buf_, sizeof buf_);
      o.buf_[kInline] = 0;
    }
    return *this;
  }
  CompactString& operator=(std::string_view s) {
    Assign(s);
    return *this;
  }

  std::string_view view() const {
    if (!heap()) return {buf_, static_cast<size_t>(static_cast<uint8_t>(buf_[kInline]))};
    char* p;
    uint32_t n;
    std::memcpy(&p, buf_, sizeof p);
    std::memcpy(&n, buf_ + sizeof p, sizeof n);
    return {p, n};
  }
  operator std::string_view() const { return view(); }  // NOLINT: reads like a string

 private:
  static constexpr size_t kInline = 15;       // buf_[kInline]: inline length, or kHeap
  static constexpr uint8_t kHeap = 0xff;
  bool heap() const { return static_cast<uint8_t>(buf_[kInline]) == kHeap; }
  void Free() {
    if (!heap()) return;
    char* p;
    std::memcpy(&p, buf_, sizeof p);
    delete[] p;
    buf_[kInline] = 0;
  }
  void Assign(std::string_view s) {
    Free();
    if (s.size() <= kInline) {
      std::memcpy(buf_, s.data(), s.size());
      buf_[kInline] = static_cast<char>(s.size());
      return;
    }
    char* p = new char[s.size()];
    std::memcpy(p, s.data(), s.size());
    const uint32_t n = static_cast<uint32_t>(s.size());
    std::memcpy(buf_, &p, sizeof p);
    std::memcpy(buf_ + sizeof p, &n, sizeof n);
    buf_[kInline] = static_cast<char>(kHeap);
  }

  char buf_[kInline + 1];
};
static_assert(sizeof(CompactString) == 16);

}  // namespace sluice::detectors
