// The simulator's Lumberjack v2 client against a scripted server: frames on
// the wire, heartbeats and partial ACKs, a bad ACK.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libdeflate.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <thread>

#include "common/strings.h"
#include "simulator/lumberjack_client.h"

namespace sluice::simulator {
namespace {

uint32_t U32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) |
         (uint32_t(uint8_t(s[at + 2])) << 8) | uint8_t(s[at + 3]);
}
std::string Ack(uint32_t n) {
  return std::string("2A") + char(n >> 24) + char(n >> 16) + char(n >> 8) + char(n);
}

// One connection, one window: `reply(frames)` gets the window's decoded
// J frames section and returns the bytes to answer.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::function<std::string(uint32_t count, const std::string& frames)> reply)
      : reply_(std::move(reply)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(fd_, 1), 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedServer() {
    thread_.join();
    close(fd_);
  }
  std::string address() const { return StrCat("127.0.0.1:", port_); }
  std::string frames;  // what the server decoded (read after the client returns)

 private:
  bool Read(int c, size_t n, std::string* out) {
    out->resize(n);
    size_t got = 0;
    while (got < n) {
      ssize_t r = recv(c, out->data() + got, n - got, 0);
      if (r <= 0) return false;
      got += static_cast<size_t>(r);
    }
    return true;
  }
  void Serve() {
    int c = accept(fd_, nullptr, nullptr);
    std::string head, body;
    if (Read(c, 6, &head) && head.substr(0, 2) == "2W") {
      uint32_t count = U32(head, 2);
      std::string next;
      Read(c, 2, &next);
      if (next == "2C") {
        std::string len;
        Read(c, 4, &len);
        std::string z;
        Read(c, U32(len, 0), &z);
        libdeflate_decompressor* d = libdeflate_alloc_decompressor();
        std::string out(1 << 20, '\0');
        size_t n = 0;
        libdeflate_zlib_decompress(d, z.data(), z.size(), out.data(), out.size(), &n);
        libdeflate_free_decompressor(d);
        frames = out.substr(0, n);
      } else {
        // Plain J frames: read them one by one.
        frames = next;
        for (uint32_t i = 0; i < count; ++i) {
          std::string hdr, data;
          if (i > 0) Read(c, 2, &hdr), frames += hdr;
          Read(c, 8, &hdr);
          frames += hdr;
          Read(c, U32(hdr, 4), &data);
          frames += data;
        }
      }
      std::string answer = reply_(count, frames);
      send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
    }
    close(c);
  }

  std::function<std::string(uint32_t, const std::string&)> reply_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

std::string Decoded(const std::string& frames) {
  // "2J" seq len json, ... → the JSON texts joined with '|'.
  std::string out;
  for (size_t p = 0; p + 10 <= frames.size();) {
    EXPECT_EQ(frames.substr(p, 2), "2J");
    uint32_t len = U32(frames, p + 6);
    if (!out.empty()) out += '|';
    out += frames.substr(p + 10, len);
    p += 10 + len;
  }
  return out;
}

TEST(LumberjackClientTest, WaitsThroughHeartbeatsAndPartialAcks) {
  ScriptedServer server([](uint32_t count, const std::string&) { return Ack(0) + Ack(1) + Ack(0) + Ack(count); });
  LumberjackClient client(0);
  ASSERT_TRUE(client.Connect(server.address()).ok());
  ASSERT_TRUE(client.SendWindow({R"({"a":1})", R"({"b":2})", R"({"c":3})"}).ok());
  EXPECT_EQ(client.heartbeats(), 2u);
  client.Close();
  EXPECT_EQ(Decoded(server.frames), R"({"a":1}|{"b":2}|{"c":3})");
}

TEST(LumberjackClientTest, CompressesTheWindow) {
  ScriptedServer server([](uint32_t count, const std::string&) { return Ack(count); });
  LumberjackClient client(3);
  ASSERT_TRUE(client.Connect(server.address()).ok());
  std::vector<std::string> events;
  for (int i = 0; i < 100; ++i) events.push_back(StrCat(R"({"n":)", i, "}"));
  ASSERT_TRUE(client.SendWindow(events).ok());
  client.Close();
  std::string d = Decoded(server.frames);
  EXPECT_EQ(d.substr(0, 15), R"({"n":0}|{"n":1})");
  EXPECT_EQ(d.substr(d.size() - 8), R"({"n":99})");
}

TEST(LumberjackClientTest, BadAckIsAnError) {
  ScriptedServer server([](uint32_t, const std::string&) { return std::string("XXXXXX"); });
  LumberjackClient client(0);
  ASSERT_TRUE(client.Connect(server.address()).ok());
  auto s = client.SendWindow({"{}"});
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(client.connected());
}

TEST(LumberjackClientTest, ClosedConnectionIsAnError) {
  ScriptedServer server([](uint32_t, const std::string&) { return std::string(); });
  LumberjackClient client(0);
  ASSERT_TRUE(client.Connect(server.address()).ok());
  EXPECT_FALSE(client.SendWindow({"{}"}).ok());
  EXPECT_FALSE(client.Connect("127.0.0.1:1").ok());
  EXPECT_FALSE(client.Connect("no-port").ok());
}

}  // namespace
}  // namespace sluice::simulator
