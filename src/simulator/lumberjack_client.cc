#include "simulator/lumberjack_client.h"

#include <libdeflate.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/strings.h"

namespace sluice::simulator {
namespace {
void PutU32(std::string* s, uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
               static_cast<char>(v)};
  s->append(b, 4);
}
}  // namespace

int ConnectTcp(const std::string& host_port, int timeout_ms, std::string* error) {
  size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) {
    *error = StrCat("expected HOST:PORT, got \"", host_port, "\"");
    return -1;
  }
  std::string host = host_port.substr(0, colon), port = host_port.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    *error = StrCat("cannot resolve ", host_port, ": ", gai_strerror(rc));
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = res; a; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    *error = StrCat("cannot connect to ", host_port, ": ", std::strerror(errno));
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  (void)timeout_ms;
  return fd;
}

LumberjackClient::LumberjackClient(int compression_level) : level_(compression_level) {
  if (level_ > 0) comp_ = libdeflate_alloc_compressor(level_);
}

LumberjackClient::~LumberjackClient() {
  Close();
  if (comp_) libdeflate_free_compressor(comp_);
}

void LumberjackClient::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

absl::Status LumberjackClient::Connect(const std::string& host_port, int timeout_ms) {
  Close();
  timeout_ms_ = timeout_ms;
  std::string err;
  fd_ = ConnectTcp(host_port, timeout_ms, &err);
  if (fd_ < 0) return absl::UnavailableError(err);
  return absl::OkStatus();
}

absl::Status LumberjackClient::WriteAll(const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::UnavailableError(StrCat("send: ", std::strerror(errno)));
    off += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status LumberjackClient::ReadExact(char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    // The server sends ACK 0 heartbeats while it works, so silence for the
    // whole timeout means it is gone.
    pollfd p{fd_, POLLIN, 0};
    int rc = poll(&p, 1, timeout_ms_);
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) return absl::DeadlineExceededError("no ACK from the server");
    ssize_t r = recv(fd_, buf + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return absl::UnavailableError(r == 0 ? "connection closed by the server" : std::strerror(errno));
    got += static_cast<size_t>(r);
  }
  return absl::OkStatus();
}

absl::Status LumberjackClient::SendWindow(const std::vector<std::string>& events) {
  if (fd_ < 0) return absl::FailedPreconditionError("not connected");
  if (events.empty()) return absl::OkStatus();
  frames_.clear();
  uint32_t seq = 0;
  for (const std::string& e : events) {
    frames_ += "2J";
    PutU32(&frames_, ++seq);
    PutU32(&frames_, static_cast<uint32_t>(e.size()));
    frames_ += e;
  }
  wire_ = "2W";
  PutU32(&wire_, seq);
  if (comp_) {
    std::string z(libdeflate_zlib_compress_bound(comp_, frames_.size()), '\0');
    size_t n = libdeflate_zlib_compress(comp_, frames_.data(), frames_.size(), z.data(), z.size());
    if (n == 0) return absl::InternalError("compression failed");
    wire_ += "2C";
    PutU32(&wire_, static_cast<uint32_t>(n));
    wire_.append(z.data(), n);
  } else {
    wire_ += frames_;
  }
  if (auto s = WriteAll(wire_); !s.ok()) {
    Close();
    return s;
  }
  while (true) {
    char ack[6];
    if (auto s = ReadExact(ack, 6); !s.ok()) {
      Close();
      return s;
    }
    if (ack[0] != '2' || ack[1] != 'A') {
      Close();
      return absl::DataLossError("bad ACK frame");
    }
    uint32_t n = (uint32_t(uint8_t(ack[2])) << 24) | (uint32_t(uint8_t(ack[3])) << 16) |
                 (uint32_t(uint8_t(ack[4])) << 8) | uint8_t(ack[5]);
    if (n == 0) {
      ++heartbeats_;
      continue;
    }
    if (n > seq) {
      Close();
      return absl::DataLossError(StrCat("ACK ", n, " beyond the window of ", seq));
    }
    if (n == seq) return absl::OkStatus();
    // A partial ACK: the server is still working on the window.
  }
}

}  // namespace sluice::simulator
