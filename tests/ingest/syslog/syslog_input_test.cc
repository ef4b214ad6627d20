// The syslog input in a running sluice (config → input → pipeline → file
// output): framings, UDP, TLS, limits, failures, config errors.

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

#include "common/es_emulator.h"
#include "syslog_test_app.h"

namespace sluice::syslog {
namespace {

using namespace sluice::syslog::testing;
using sluice::testing::TcpClient;
using sluice::testing::WaitFor;

std::string Input(const std::string& extra = "") {
  return "  - type: syslog\n    listen: 127.0.0.1:0\n" + extra;
}

TEST(SyslogInputTcp, FramingsDetectedPerFrameAndFieldsMapped) {
  SyslogApp s(Input());
  ASSERT_TRUE(s.ok());
  TcpClient c;
  ASSERT_TRUE(c.Connect("127.0.0.1", s.Port()));
  std::string oct = "<134>1 2026-11-21T05:31:00.438655+00:00 vm syslog-send 77 ID1 - octet\n";
  ASSERT_TRUE(c.WriteAll("<134>Nov 21 05:31:12 vm syslog-send: lf\n" + std::to_string(oct.size()) + " " + oct +
                         "<13>Nov  1 00:00:00 h2 app[9]: crlf\r\n" + std::string("<13>nul\0", 8) +
                         "not syslog at all\n"));
  auto lines = s.WaitLines(5);
  ASSERT_EQ(lines.size(), 5u);
  std::string lf = FindMessage(lines, "lf"), octet = FindMessage(lines, "octet"), crlf = FindMessage(lines, "crlf"),
              nul = FindMessage(lines, "nul"), bad = FindMessage(lines, "not syslog at all");
  EXPECT_EQ(Field(lf, "log.syslog.hostname"), "vm");
  EXPECT_EQ(Field(lf, "process.name"), "syslog-send");
  EXPECT_EQ(Field(lf, "source.ip"), "127.0.0.1");
  EXPECT_EQ(Field(octet, "log.syslog.version"), "1");
  EXPECT_EQ(Field(octet, "log.syslog.msgid"), "ID1");
  EXPECT_EQ(Field(octet, "process.pid"), "77");
  EXPECT_EQ(Field(octet, "@timestamp"), "2026-11-21T05:31:00.438655Z");
  EXPECT_EQ(Field(crlf, "process.pid"), "9");
  EXPECT_EQ(Field(nul, "log.syslog.priority"), "13");
  EXPECT_EQ(Field(bad, "tags"), "[\"_syslogparsefailure\"]");
  EXPECT_EQ(Field(bad, "log.syslog.priority"), "13");
  EXPECT_EQ(s.Metric("sluice_component_errors_total", {{"component", "syslog"}, {"reason", "parse_failure"}}), 1);
  EXPECT_EQ(s.Metric("sluice_component_received_events_total", {{"component", "syslog"}}), 5);
}

TEST(SyslogInputTcp, ManyMessagesAcrossReadsAndAPartialFrameAtClose) {
  SyslogApp s(Input("    keep_original: true\n"));
  ASSERT_TRUE(s.ok());
  const int n = 20000;
  std::string all;
  for (int i = 0; i < n; ++i) {
    std::string m = StrCat("<14>1 2026-11-21T05:31:00Z host app - - [x@1 i=\"", i, "\"] message number ", i);
    if (i % 2) all += StrCat(m.size(), " ", m);
    else all += m + "\n";
  }
  all += "<14>Nov 21 05:31:00 host app: last without trailer";
  TcpClient c;
  ASSERT_TRUE(c.Connect("127.0.0.1", s.Port()));
  ASSERT_TRUE(c.WriteAll(all));
  c.Close();
  auto lines = s.WaitLines(n + 1);
  ASSERT_EQ(lines.size(), static_cast<size_t>(n + 1));
  // Batches of one connection may be indexed out of order (several pipeline
  // workers), so look events up by content.
  std::vector<int> seen(n, 0);
  for (const auto& l : lines) {
    std::string i = Field(l, "log.syslog.structured_data.x@1.i");
    if (i == "<missing>") continue;
    int k = std::stoi(i);
    ASSERT_TRUE(k >= 0 && k < n);
    ++seen[k];
    EXPECT_EQ(Field(l, "message"), StrCat("message number ", k));
    if (k % 997 == 0) {
      EXPECT_NE(Field(l, "event.original"), "<missing>");
    }
  }
  for (int i = 0; i < n; ++i) ASSERT_EQ(seen[i], 1) << i;
  EXPECT_EQ(CountMessage(lines, "last without trailer"), 1u);
}

// A busy connection reads 256 KiB at a time (the first reads ask for 64 KiB):
// frames of every size up to and beyond max_message_bytes, split anywhere by
// the reads, arrive whole (or truncated at the limit) whichever read size cut
// them.
TEST(SyslogInputTcp, BusyConnectionFramesOfEverySizeAcrossLargeReads) {
  SyslogApp s(Input("    max_message_bytes: 64KiB\n"));
  ASSERT_TRUE(s.ok());
  const int n = 600;
  uint64_t rng = 0x2545f4914f6cdd1dull;
  std::string all;
  std::vector<size_t> sizes;
  for (int i = 0; i < n; ++i) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    // Mostly short lines, some near the limit, a few beyond it.
    const size_t len = i % 50 == 7 ? 66000 + rng % 4000 : i % 10 == 3 ? 60000 + rng % 5000 : 20 + rng % 400;
    sizes.push_back(len);
    std::string m = StrCat("<13>Nov 21 05:31:00 h app: #", i, "#", std::string(len, static_cast<char>('a' + i % 26)));
    if (i % 3 == 1) all += StrCat(m.size(), " ", m);
    else all += m + "\n";
  }
  TcpClient c;
  ASSERT_TRUE(c.Connect("127.0.0.1", s.Port()));
  ASSERT_TRUE(c.WriteAll(all));
  auto lines = s.WaitLines(n);
  ASSERT_EQ(lines.size(), static_cast<size_t>(n));
  std::vector<int> seen(n, 0);
  size_t truncated = 0;
  for (const auto& l : lines) {
    const std::string msg = Field(l, "message");
    ASSERT_EQ(msg[0], '#');
    const size_t hash = msg.find('#', 1);
    ASSERT_NE(hash, std::string::npos);
    const int i = std::stoi(msg.substr(1, hash - 1));
    ASSERT_TRUE(i >= 0 && i < n);
    ++seen[i];
    const std::string header = StrCat("<13>Nov 21 05:31:00 h app: #", i, "#");
    const size_t full = header.size() + sizes[i];
    const size_t kept = std::min<size_t>(full, 64 * 1024) - header.size();
    EXPECT_EQ(msg.substr(hash + 1), std::string(kept, static_cast<char>('a' + i % 26))) << i;
    if (full > 64 * 1024) {
      ++truncated;
      EXPECT_EQ(Field(l, "tags"), "[\"_syslogtruncated\"]") << i;
    } else {
      EXPECT_EQ(Field(l, "tags"), "<missing>") << i;
    }
  }
  for (int i = 0; i < n; ++i) ASSERT_EQ(seen[i], 1) << i;
  EXPECT_GT(truncated, 0u);
}

TEST(SyslogInputTcp, OversizedMessagesTruncatedAndTagged) {
  SyslogApp s(Input("    max_message_bytes: 1KiB\n"));
  ASSERT_TRUE(s.ok());
  TcpClient c;
  ASSERT_TRUE(c.Connect("127.0.0.1", s.Port()));
  std::string big(5000, 'x');
  std::string oct_body = "<13>Nov 21 05:31:00 h app: " + big;
  ASSERT_TRUE(c.WriteAll("<13>Nov 21 05:31:00 h app: " + big + "\n" + std::to_string(oct_body.size()) + " " +
                         oct_body + "<13>Nov 21 05:31:00 h app: after\n"));
  auto lines = s.WaitLines(3);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(CountMessage(lines, std::string(1024 - 27, 'x')), 2u);
  for (const auto& l : lines) {
    if (Field(l, "message") != "after") {
      EXPECT_EQ(Field(l, "tags"), "[\"_syslogtruncated\"]");
    }
  }
  EXPECT_EQ(Field(FindMessage(lines, "after"), "tags"), "<missing>");
  EXPECT_EQ(s.Metric("sluice_component_errors_total", {{"reason", "message_truncated"}}), 2);
}

TEST(SyslogInputTcp, SlowAndHostileClientsDoNotStallOthers) {
  SyslogApp s(Input("    max_message_bytes: 1KiB\n"));
  ASSERT_TRUE(s.ok());
  // A client that starts a frame and never finishes it, and one that sends an
  // endless line: neither holds up the third, and neither grows memory past
  // max_message_bytes (the endless line is cut and the rest skipped).
  TcpClient slow, hostile, good;
  ASSERT_TRUE(slow.Connect("127.0.0.1", s.Port()));
  ASSERT_TRUE(slow.WriteAll("500 <13>Nov 21 05:31:00 h app: never finished"));
  ASSERT_TRUE(hostile.Connect("127.0.0.1", s.Port()));
  std::string junk(1 << 20, 'j');
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(hostile.WriteAll(junk));
  ASSERT_TRUE(good.Connect("127.0.0.1", s.Port()));
  std::string msgs;
  for (int i = 0; i < 100; ++i) msgs += StrCat("<13>Nov 21 05:31:00 h app: good ", i, "\n");
  ASSERT_TRUE(good.WriteAll(msgs));
  ASSERT_TRUE(WaitFor([&] {
    auto lines = s.Lines();
    return CountMessage(lines, "good 99") == 1 && lines.size() >= 101;
  }));
  auto lines = s.Lines();
  size_t good_n = 0, junk_n = 0;
  for (const auto& l : lines) {
    good_n += Field(l, "message").rfind("good ", 0) == 0;
    junk_n += Field(l, "tags") == "[\"_syslogparsefailure\",\"_syslogtruncated\"]";
  }
  EXPECT_EQ(good_n, 100u);
  EXPECT_EQ(junk_n, 1u);  // one event for the whole endless line
  EXPECT_EQ(CountMessage(lines, "never finished"), 0u);
  EXPECT_EQ(s.Metric("sluice_input_connections", {{"component", "syslog"}}), 3);
}

TEST(SyslogInputTcp, MaxConnections) {
  SyslogApp s(Input("    max_connections: 2\n"));
  ASSERT_TRUE(s.ok());
  TcpClient a, b, c;
  ASSERT_TRUE(a.Connect("127.0.0.1", s.Port()));
  ASSERT_TRUE(b.Connect("127.0.0.1", s.Port()));
  ASSERT_TRUE(a.WriteAll("<13>Nov 21 05:31:00 h app: a\n"));
  ASSERT_TRUE(b.WriteAll("<13>Nov 21 05:31:00 h app: b\n"));
  s.WaitLines(2);
  ASSERT_TRUE(c.Connect("127.0.0.1", s.Port()));
  EXPECT_TRUE(c.WaitClosed());
  EXPECT_EQ(s.Metric("sluice_component_errors_total", {{"reason", "too_many_connections"}}), 1);
  // A slot freed by a close is usable again.
  a.Close();
  ASSERT_TRUE(WaitFor([&] { return s.Metric("sluice_input_connections", {{"component", "syslog"}}) == 1; }));
  TcpClient d;
  ASSERT_TRUE(d.Connect("127.0.0.1", s.Port()));
  ASSERT_TRUE(d.WriteAll("<13>Nov 21 05:31:00 h app: d\n"));
  EXPECT_EQ(CountMessage(s.WaitLines(3), "d"), 1u);
}

TEST(SyslogInputTcp, IdleTimeoutClosesSilentConnections) {
  SyslogApp s(Input("    idle_timeout: 300ms\n"));
  ASSERT_TRUE(s.ok());
  TcpClient c;
  ASSERT_TRUE(c.Connect("127.0.0.1", s.Port()));
  ASSERT_TRUE(c.WriteAll("<13>Nov 21 05:31:00 h app: partial"));
  EXPECT_TRUE(c.WaitClosed(std::chrono::seconds(10)));
  // What was buffered is not lost: it is delivered when the connection closes.
  EXPECT_EQ(CountMessage(s.WaitLines(1), "partial"), 1u);
  EXPECT_EQ(s.Metric("sluice_component_errors_total", {{"reason", "idle_timeout"}}), 1);
}

TEST(SyslogInputUdp, DatagramsParsedAndCounted) {
  SyslogApp s(Input("    protocol: udp\n    receive_buffer_bytes: 4MiB\n"));
  ASSERT_TRUE(s.ok());
  const int n = 200;
  for (int i = 0; i < n; ++i) {
    std::string m = i % 2 ? StrCat("<134>Nov 21 05:30:59 vm syslog-send: udp ", i)
                          : StrCat("<134>1 2026-11-21T05:30:59.285610+00:00 vm syslog-send - - "
                                   "[timeQuality tzKnown=\"1\" isSynced=\"0\"] udp ",
                                   i);
    if (i % 5 == 0) m = StrCat(m.size(), " ", m);  // logger --udp --octet-count
    ASSERT_TRUE(SendUdp(s.Port(), m));
  }
  auto lines = s.WaitLines(n);
  ASSERT_EQ(lines.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) EXPECT_EQ(CountMessage(lines, StrCat("udp ", i)), 1u) << i;
  EXPECT_EQ(Field(lines[0], "source.ip"), "127.0.0.1");
  EXPECT_EQ(Field(lines[0], "log.syslog.hostname"), "vm");
  EXPECT_EQ(s.Metric("sluice_component_discarded_events_total", {{"reason", "udp_overflow"}}), 0);
}

TEST(SyslogInputUdp, OversizedDatagramTruncated) {
  SyslogApp s(Input("    protocol: udp\n    max_message_bytes: 1KiB\n"));
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(SendUdp(s.Port(), "<13>Nov 21 05:31:00 h app: " + std::string(3000, 'z')));
  auto lines = s.WaitLines(1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Field(lines[0], "tags"), "[\"_syslogtruncated\"]");
  EXPECT_EQ(Field(lines[0], "message").size(), 1024u - 27);
}

// --- TLS (RFC 5425) ----------------------------------------------------------

class SyslogInputTls : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(sluice::testing::MakeTestCertificates(dir_.path())); }

  std::string TlsInput(const std::string& client_auth) {
    const std::string d = dir_.path();
    return Input(StrCat("    tls:\n      certificate: ", d, "/server.pem\n      key: ", d, "/server.key\n",
                        "      client_ca: ", d, "/ca.pem\n      client_auth: ", client_auth, "\n"));
  }

  // Sends `data` over TLS; returns false if the handshake or write failed.
  bool SendTls(int port, const std::string& data, bool with_cert) {
    namespace asio = boost::asio;
    asio::io_context io;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.load_verify_file(dir_.path() + "/ca.pem");
    if (with_cert) {
      ctx.use_certificate_chain_file(dir_.path() + "/client.pem");
      ctx.use_private_key_file(dir_.path() + "/client.key", asio::ssl::context::pem);
    }
    asio::ssl::stream<asio::ip::tcp::socket> s(io, ctx);
    s.set_verify_mode(asio::ssl::verify_peer);
    boost::system::error_code ec;
    s.lowest_layer().connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, ec);
    if (ec) return false;
    s.handshake(asio::ssl::stream_base::client, ec);
    if (ec) return false;
    asio::write(s, asio::buffer(data), ec);
    if (ec) return false;
    // TLS 1.3 reports a rejected client certificate only on the next read.
    char b;
    s.lowest_layer().non_blocking(false);
    s.shutdown(ec);
    (void)b;
    return true;
  }

  sluice::testing::TempDir dir_;
};

std::string Octet(const std::string& m) { return StrCat(m.size(), " ", m); }

TEST_F(SyslogInputTls, RequiredClientCertificate) {
  SyslogApp s(TlsInput("required"));
  ASSERT_TRUE(s.ok());
  std::string data;
  for (int i = 0; i < 50; ++i) data += Octet(StrCat("<134>1 2026-11-21T05:31:00Z vm app - - - tls ", i));
  EXPECT_TRUE(SendTls(s.Port(), data, /*with_cert=*/true));
  auto lines = s.WaitLines(50);
  ASSERT_EQ(lines.size(), 50u);
  EXPECT_EQ(CountMessage(lines, "tls 49"), 1u);
  EXPECT_EQ(Field(lines[0], "log.syslog.hostname"), "vm");

  SendTls(s.Port(), Octet("<134>1 - vm app - - - no cert"), /*with_cert=*/false);
  ASSERT_TRUE(WaitFor(
      [&] { return s.Metric("sluice_component_errors_total", {{"reason", "tls_handshake"}}) >= 1; }));
  EXPECT_EQ(CountMessage(s.Lines(), "no cert"), 0u);
}

TEST_F(SyslogInputTls, OptionalClientCertificate) {
  SyslogApp s(TlsInput("optional"));
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(SendTls(s.Port(), Octet("<134>1 - vm app - - - with cert"), true));
  EXPECT_TRUE(SendTls(s.Port(), Octet("<134>1 - vm app - - - without cert"), false));
  auto lines = s.WaitLines(2);
  EXPECT_EQ(CountMessage(lines, "with cert"), 1u);
  EXPECT_EQ(CountMessage(lines, "without cert"), 1u);
}

// --- Config ------------------------------------------------------------------

std::string ConfigErrors(const std::string& input_yaml) {
  auto app = App::Load("inputs:\n" + input_yaml + "outputs:\n  - {type: file, path: /tmp/x}\n", "cfg.yml", true);
  return app.ok() ? "" : std::string(MessageOf(app.status().message()));
}

TEST(SyslogInputConfig, DefaultsAndErrors) {
  EXPECT_EQ(ConfigErrors("  - type: syslog\n"), "");
  EXPECT_EQ(ConfigErrors("  - type: syslog\n    protocol: udp\n    timezone: Europe/Berlin\n"), "");
  std::string e = ConfigErrors("  - type: syslog\n    bogus: 1\n");
  EXPECT_NE(e.find("cfg.yml:3: unknown key \"inputs[0].bogus\""), std::string::npos) << e;
  e = ConfigErrors("  - type: syslog\n    timezone: Mars/Olympus\n");
  EXPECT_NE(e.find("cfg.yml:3: inputs[0].timezone:"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown time zone \"Mars/Olympus\""), std::string::npos) << e;
  e = ConfigErrors("  - type: syslog\n    protocol: sctp\n");
  EXPECT_NE(e.find("protocol"), std::string::npos) << e;
  e = ConfigErrors("  - type: syslog\n    listen: nowhere\n");
  EXPECT_NE(e.find("expected host:port"), std::string::npos) << e;
  e = ConfigErrors("  - type: syslog\n    protocol: udp\n    tls: {certificate: a, key: b}\n");
  EXPECT_NE(e.find("TLS needs `protocol: tcp`"), std::string::npos) << e;
  e = ConfigErrors("  - type: syslog\n    tls: {certificate: a}\n");
  EXPECT_NE(e.find("key"), std::string::npos) << e;
  e = ConfigErrors("  - type: syslog\n    tls: {certificate: a, key: b, client_auth: required}\n");
  EXPECT_NE(e.find("client_ca"), std::string::npos) << e;
  e = ConfigErrors("  - type: syslog\n    max_message_bytes: 10\n");
  EXPECT_NE(e.find("max_message_bytes"), std::string::npos) << e;
}

}  // namespace
}  // namespace sluice::syslog
