#include "pipeline/disk_log.h"

#include <fcntl.h>
#include <libdeflate.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/strings.h"

namespace sluice {
namespace fs = std::filesystem;

namespace {
constexpr uint32_t kMagic = 0x31514C53;  // "SLQ1" little-endian
constexpr size_t kHeader = 20;

void PutU32(char* p, uint32_t v) { std::memcpy(p, &v, 4); }
void PutU64(char* p, uint64_t v) { std::memcpy(p, &v, 8); }
uint32_t GetU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t GetU64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
uint32_t RecordCrc(uint64_t seq, const char* payload, size_t len) {
  char s[8];
  PutU64(s, seq);
  uint32_t crc = libdeflate_crc32(0, s, 8);
  return libdeflate_crc32(crc, payload, len);
}
std::string SegmentName(uint64_t first_seq) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "seg-%020llu.log", static_cast<unsigned long long>(first_seq));
  return buf;
}
absl::Status Errno(std::string_view what, const std::string& path) {
  int e = errno;
  std::string msg = StrCat(what, " ", path, ": ", std::strerror(e));
  if (e == ENOSPC || e == EDQUOT) return absl::ResourceExhaustedError(msg);
  return absl::InternalError(msg);
}
bool PreadAll(int fd, char* buf, size_t n, uint64_t off) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(fd, buf + got, n - got, off + got);
    if (r <= 0) return false;
    got += r;
  }
  return true;
}
}  // namespace

DiskLog::~DiskLog() {
  for (auto& s : segments_) {
    if (s.fd >= 0) close(s.fd);
  }
}

absl::StatusOr<std::unique_ptr<DiskLog>> DiskLog::Open(DiskLogOptions opts, DiskLogRecovery* recovery) {
  std::error_code ec;
  fs::create_directories(opts.dir, ec);
  if (ec) return absl::InternalError(StrCat("cannot create ", opts.dir, ": ", ec.message()));
  std::unique_ptr<DiskLog> log(new DiskLog(std::move(opts)));
  if (log->opts_.retain_from > 0) log->retain_from_ = log->opts_.retain_from;
  DiskLogRecovery local;
  if (auto s = log->Recover(recovery ? recovery : &local); !s.ok()) return s;
  return log;
}

void DiskLog::ReadCheckpoint(DiskLogRecovery* r) {
  std::string path = opts_.dir + "/checkpoint";
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;  // a new queue
  char buf[16];
  bool ok = PreadAll(fd, buf, 12, 0);
  close(fd);
  if (ok && libdeflate_crc32(0, buf, 8) == GetU32(buf + 8)) {
    committed_ = GetU64(buf);
    return;
  }
  // Without a valid checkpoint everything still on disk is replayed: duplicates
  // (idempotent with deterministic ids), never loss.
  r->checkpoint_damaged = true;
  r->messages.push_back(StrCat(path, ": damaged checkpoint, replaying every record on disk"));
  committed_ = 1;
}

absl::Status DiskLog::WriteCheckpoint() {
  char buf[12];
  PutU64(buf, committed_);
  PutU32(buf + 8, libdeflate_crc32(0, buf, 8));
  std::string tmp = opts_.dir + "/checkpoint.tmp";
  std::string path = opts_.dir + "/checkpoint";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("open", tmp);
  if (write(fd, buf, sizeof buf) != static_cast<ssize_t>(sizeof buf) || fdatasync(fd) != 0) {
    absl::Status s = Errno("write", tmp);
    close(fd);
    return s;
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) return Errno("rename", tmp);
  int dfd = open(opts_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return absl::OkStatus();
}

absl::Status DiskLog::Recover(DiskLogRecovery* r) {
  ReadCheckpoint(r);
  std::vector<std::pair<uint64_t, std::string>> found;
  std::error_code ec;
  for (const auto& de : fs::directory_iterator(opts_.dir, ec)) {
    std::string name = de.path().filename().string();
    if (name.rfind("seg-", 0) != 0 || name.size() < 9 || name.substr(name.size() - 4) != ".log") continue;
    found.emplace_back(std::strtoull(name.c_str() + 4, nullptr, 10), de.path().string());
  }
  if (ec) return absl::InternalError(StrCat("cannot list ", opts_.dir, ": ", ec.message()));
  std::sort(found.begin(), found.end());
  for (auto& [first, path] : found) {
    Segment s;
    s.first_seq = first;
    s.path = path;
    s.fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (s.fd < 0) return Errno("open", path);
    struct stat st;
    fstat(s.fd, &st);
    s.size = st.st_size;
    segments_.push_back(s);
  }
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (auto s = ScanSegment(i, i + 1 == segments_.size(), r); !s.ok()) return s;
  }
  if (!index_.empty()) next_seq_ = std::max(next_seq_, index_.back().seq + 1);
  next_seq_ = std::max(next_seq_, committed_);
  DropDeliveredSegments();
  r->records = pending_records();
  return absl::OkStatus();
}

absl::Status DiskLog::ScanSegment(size_t si, bool last, DiskLogRecovery* r) {
  Segment& seg = segments_[si];
  std::string data(seg.size, '\0');
  if (seg.size && !PreadAll(seg.fd, data.data(), seg.size, 0)) return Errno("read", seg.path);
  uint64_t off = 0;
  uint64_t skipped = 0;
  auto valid_at = [&](uint64_t o, uint32_t* len, uint64_t* seq) {
    if (o + kHeader > data.size() || GetU32(data.data() + o) != kMagic) return false;
    *len = GetU32(data.data() + o + 4);
    *seq = GetU64(data.data() + o + 8);
    if (o + kHeader + *len > data.size()) return false;
    return RecordCrc(*seq, data.data() + o + kHeader, *len) == GetU32(data.data() + o + 16);
  };
  while (off < data.size()) {
    uint32_t len;
    uint64_t seq;
    if (valid_at(off, &len, &seq)) {
      if (skipped) {
        r->corrupt_bytes += skipped;
        r->corrupt_records++;
        r->messages.push_back(StrCat(seg.path, ": skipped ", skipped, " corrupt bytes before offset ", off));
        skipped = 0;
      }
      if (seq >= KeepFrom()) index_.push_back({seq, si + erased_segments_, off, len});
      next_seq_ = std::max(next_seq_, seq + 1);
      off += kHeader + len;
      continue;
    }
    // Damage: look for the next valid record in this segment.
    uint64_t next = off + 1;
    while (next < data.size()) {
      uint32_t l2;
      uint64_t s2;
      if (valid_at(next, &l2, &s2)) break;
      ++next;
    }
    if (next >= data.size()) {
      if (last) {
        // A torn tail (crash during a write): cut it so appends continue cleanly.
        r->torn_tail_bytes += data.size() - off;
        r->messages.push_back(StrCat(seg.path, ": cut a torn tail of ", data.size() - off, " bytes at offset ", off));
        if (ftruncate(seg.fd, off) != 0) return Errno("truncate", seg.path);
        seg.size = off;
      } else {
        r->corrupt_bytes += data.size() - off;
        r->corrupt_records++;
        r->messages.push_back(StrCat(seg.path, ": skipped ", data.size() - off, " corrupt bytes at the end"));
      }
      break;
    }
    skipped += next - off;
    off = next;
  }
  total_bytes_ += seg.size;
  return absl::OkStatus();
}

absl::Status DiskLog::OpenNewSegment() {
  Segment s;
  s.first_seq = next_seq_;
  s.path = opts_.dir + "/" + SegmentName(next_seq_);
  s.fd = open(s.path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (s.fd < 0) return Errno("create", s.path);
  segments_.push_back(s);
  int dfd = open(opts_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> DiskLog::Append(std::string_view payload) {
  const uint64_t need = kHeader + payload.size();
  if (total_bytes_ + need > opts_.max_bytes && total_bytes_ > 0) {
    return absl::ResourceExhaustedError(StrCat("persisted queue is full (", total_bytes_, " of ", opts_.max_bytes, " bytes)"));
  }
  if (segments_.empty() || (segments_.back().size > 0 && segments_.back().size + need > opts_.segment_bytes)) {
    if (auto s = OpenNewSegment(); !s.ok()) return s;
  }
  Segment& seg = segments_.back();
  const uint64_t seq = next_seq_;
  char h[kHeader];
  PutU32(h, kMagic);
  PutU32(h + 4, static_cast<uint32_t>(payload.size()));
  PutU64(h + 8, seq);
  PutU32(h + 16, RecordCrc(seq, payload.data(), payload.size()));
  iovec iov[2] = {{h, kHeader}, {const_cast<char*>(payload.data()), payload.size()}};
  ssize_t w = pwritev(seg.fd, iov, 2, seg.size);
  if (w != static_cast<ssize_t>(need)) {
    absl::Status s = w < 0 ? Errno("write", seg.path)
                           : absl::ResourceExhaustedError(StrCat("short write to ", seg.path, " (disk full?)"));
    // Leave no partial record behind.
    if (ftruncate(seg.fd, seg.size) != 0) {
      return absl::InternalError(StrCat("cannot undo a partial write to ", seg.path, ": ", std::strerror(errno)));
    }
    return s;
  }
  index_.push_back({seq, segments_.size() - 1 + erased_segments_, seg.size, static_cast<uint32_t>(payload.size())});
  seg.size += need;
  total_bytes_ += need;
  ++next_seq_;
  return seq;
}

absl::Status DiskLog::Sync() {
  if (segments_.empty()) return absl::OkStatus();
  if (fdatasync(segments_.back().fd) != 0) return Errno("sync", segments_.back().path);
  return absl::OkStatus();
}

absl::StatusOr<bool> DiskLog::Read(uint64_t seq, uint64_t* found_seq, std::string* payload) {
  auto it = std::lower_bound(index_.begin(), index_.end(), seq,
                             [](const RecordPos& p, uint64_t s) { return p.seq < s; });
  if (it == index_.end()) return false;
  const Segment& seg = segments_[it->segment - erased_segments_];
  payload->resize(it->length);
  if (!PreadAll(seg.fd, payload->data(), it->length, it->offset + kHeader)) return Errno("read", seg.path);
  char h[kHeader];
  if (!PreadAll(seg.fd, h, kHeader, it->offset)) return Errno("read", seg.path);
  if (RecordCrc(it->seq, payload->data(), it->length) != GetU32(h + 16)) {
    return absl::DataLossError(StrCat(seg.path, ": record ", it->seq, " changed on disk (CRC mismatch)"));
  }
  *found_seq = it->seq;
  return true;
}

void DiskLog::DropDeliveredSegments() {
  // Delete segments that hold only delivered records (never the one being written).
  while (segments_.size() > 1) {
    size_t first_live = index_.empty() ? segments_.size() - 1 + erased_segments_ : index_.front().segment;
    if (first_live <= erased_segments_) break;
    close(segments_.front().fd);
    total_bytes_ -= segments_.front().size;
    unlink(segments_.front().path.c_str());
    segments_.erase(segments_.begin());
    ++erased_segments_;
  }
}

size_t DiskLog::pending_records() const {
  auto it = std::lower_bound(index_.begin(), index_.end(), committed_,
                             [](const RecordPos& p, uint64_t s) { return p.seq < s; });
  return static_cast<size_t>(index_.end() - it);
}

void DiskLog::SetRetainFrom(uint64_t seq) {
  retain_from_ = seq == 0 ? UINT64_MAX : seq;
  while (!index_.empty() && index_.front().seq < KeepFrom()) index_.pop_front();
  DropDeliveredSegments();
}

absl::Status DiskLog::Commit(uint64_t seq) {
  if (seq <= committed_) return absl::OkStatus();
  committed_ = seq;
  while (!index_.empty() && index_.front().seq < KeepFrom()) index_.pop_front();
  absl::Status s = WriteCheckpoint();
  // Safe without the new checkpoint too (a full disk may refuse it): the
  // dropped segments hold only delivered records, and an older checkpoint only
  // makes a restart replay delivered records of the remaining ones. Freeing
  // them is what lets a full disk recover.
  DropDeliveredSegments();
  return s;
}

}  // namespace sluice
