#pragma once
// Binary state of the detectors and alert trackers (issue 6): a writer and a
// bounds-checked reader for compact little-endian records, and state files
// written atomically (temp file + fdatasync + rename + directory fsync) with a
// magic, a format version and a CRC-32 of the body. A file that is damaged or
// of another version is refused (DataLoss / FailedPrecondition), never
// half-loaded: callers start fresh and say so.
//
// File: 8-byte magic | u32 format version | u32 CRC-32 of the body |
//       u64 body length | body.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice::detectors {

class StateWriter {
 public:
  void U8(uint8_t v) { buf_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) { Raw(&v, 4); }
  void U64(uint64_t v) { Raw(&v, 8); }
  void I64(int64_t v) { Raw(&v, 8); }
  void F32(float v) { Raw(&v, 4); }
  void F64(double v) { Raw(&v, 8); }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    buf_.append(s);
  }
  // A trivially copyable value as its bytes (its size is checked on reading).
  template <typename T>
  void Pod(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    U32(sizeof(T));
    Raw(&v, sizeof(T));
  }
  void Raw(const void* p, size_t n) { buf_.append(static_cast<const char*>(p), n); }
  // Overwrites the U64 written at offset `at` (a count known after its entries).
  void SetU64(size_t at, uint64_t v) { std::memcpy(buf_.data() + at, &v, 8); }

  // A nested section: Begin() returns a mark, End(mark) writes its length
  // before it, so a reader can skip a section it does not want.
  size_t Begin() {
    U64(0);
    return buf_.size();
  }
  void End(size_t mark) {
    const uint64_t n = buf_.size() - mark;
    std::memcpy(buf_.data() + mark - 8, &n, 8);
  }

  std::string& buffer() { return buf_; }
  size_t size() const { return buf_.size(); }

 private:
  std::string buf_;
};

// Every read fails once any read failed (ok() tells), so a loader can read a
// whole record and check once.
class StateReader {
 public:
  explicit StateReader(std::string_view s) : s_(s) {}
  bool U8(uint8_t* v) { return Fixed(v, 1); }
  bool U32(uint32_t* v) { return Fixed(v, 4); }
  bool U64(uint64_t* v) { return Fixed(v, 8); }
  bool I64(int64_t* v) { return Fixed(v, 8); }
  bool F32(float* v) { return Fixed(v, 4); }
  bool F64(double* v) { return Fixed(v, 8); }
  bool Str(std::string* v) {
    std::string_view b;
    if (!StrView(&b)) return false;
    v->assign(b);
    return true;
  }
  bool StrView(std::string_view* v) {
    uint32_t n;
    if (!U32(&n) || !Take(n, v)) return false;
    return true;
  }
  template <typename T>
  bool Pod(T* v) {
    static_assert(std::is_trivially_copyable_v<T>);
    uint32_t n;
    if (!U32(&n)) return false;
    if (n != sizeof(T)) return Fail();  // another layout: not this build's state
    return Fixed(v, sizeof(T));
  }
  // A section written by StateWriter::Begin/End.
  bool Section(StateReader* inner) {
    uint64_t n;
    std::string_view b;
    if (!U64(&n) || !Take(n, &b)) return false;
    *inner = StateReader(b);
    return true;
  }
  bool Take(size_t n, std::string_view* v) {
    if (!ok_ || s_.size() < n) return Fail();
    *v = s_.substr(0, n);
    s_.remove_prefix(n);
    return true;
  }
  // Marks the state as invalid (a value out of range) and returns false.
  bool Fail() {
    ok_ = false;
    return false;
  }
  bool ok() const { return ok_; }
  bool done() const { return ok_ && s_.empty(); }
  size_t left() const { return s_.size(); }

 private:
  bool Fixed(void* v, size_t n) {
    if (!ok_ || s_.size() < n) return Fail();
    std::memcpy(v, s_.data(), n);
    s_.remove_prefix(n);
    return true;
  }
  std::string_view s_;
  bool ok_ = true;
};

// Writes `body` to `path` atomically (see above). `magic` is 8 bytes.
absl::Status WriteStateFile(const std::string& path, std::string_view magic, uint32_t version, std::string_view body);
// Reads a state file: its body, or NotFound (no file), DataLoss (damaged:
// wrong magic, short, CRC mismatch) or FailedPrecondition (another version).
absl::StatusOr<std::string> ReadStateFile(const std::string& path, std::string_view magic, uint32_t version);

}  // namespace sluice::detectors
