#include "detectors/common/state_io.h"

#include <fcntl.h>
#include <libdeflate.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "common/strings.h"

namespace sluice::detectors {
namespace {

constexpr size_t kHeader = 8 + 4 + 4 + 8;

absl::Status Errno(std::string_view what, const std::string& path) {
  const int e = errno;
  std::string msg = StrCat(what, " ", path, ": ", std::strerror(e));
  if (e == ENOSPC || e == EDQUOT) return absl::ResourceExhaustedError(msg);
  return absl::InternalError(msg);
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

void SyncDir(const std::string& dir) {
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return;
  fsync(dfd);
  close(dfd);
}

}  // namespace

absl::Status WriteStateFile(const std::string& path, std::string_view magic, uint32_t version, std::string_view body) {
  if (magic.size() != 8) return absl::InvalidArgumentError("state file magic must be 8 bytes");
  const std::filesystem::path p(path);
  const std::string dir = p.parent_path().empty() ? "." : p.parent_path().string();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(StrCat("cannot create ", dir, ": ", ec.message()));
  char head[kHeader];
  std::memcpy(head, magic.data(), 8);
  const uint32_t crc = static_cast<uint32_t>(libdeflate_crc32(0, body.data(), body.size()));
  const uint64_t len = body.size();
  std::memcpy(head + 8, &version, 4);
  std::memcpy(head + 12, &crc, 4);
  std::memcpy(head + 16, &len, 8);
  const std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("open", tmp);
  if (!WriteAll(fd, head, kHeader) || !WriteAll(fd, body.data(), body.size()) || fdatasync(fd) != 0) {
    absl::Status s = Errno("write", tmp);
    close(fd);
    unlink(tmp.c_str());
    return s;
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status s = Errno("rename", tmp);
    unlink(tmp.c_str());
    return s;
  }
  SyncDir(dir);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadStateFile(const std::string& path, std::string_view magic, uint32_t version) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(StrCat(path, ": no such file"));
    return Errno("open", path);
  }
  std::string data;
  struct stat st;
  if (fstat(fd, &st) == 0 && st.st_size > 0) data.reserve(static_cast<size_t>(st.st_size));
  char chunk[1 << 16];
  for (;;) {
    ssize_t r = read(fd, chunk, sizeof chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      absl::Status s = Errno("read", path);
      close(fd);
      return s;
    }
    if (r == 0) break;
    data.append(chunk, static_cast<size_t>(r));
  }
  close(fd);
  if (data.size() < kHeader || std::string_view(data.data(), 8) != magic) {
    return absl::DataLossError(StrCat(path, ": not a state file of this kind"));
  }
  uint32_t v, crc;
  uint64_t len;
  std::memcpy(&v, data.data() + 8, 4);
  std::memcpy(&crc, data.data() + 12, 4);
  std::memcpy(&len, data.data() + 16, 8);
  if (v != version) {
    return absl::FailedPreconditionError(StrCat(path, ": format version ", v, ", this build reads ", version));
  }
  if (len != data.size() - kHeader) return absl::DataLossError(StrCat(path, ": truncated or overlong"));
  if (libdeflate_crc32(0, data.data() + kHeader, len) != crc) {
    return absl::DataLossError(StrCat(path, ": CRC mismatch"));
  }
  data.erase(0, kHeader);
  return data;
}

}  // namespace sluice::detectors
