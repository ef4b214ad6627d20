// Integration with the real senders (DESIGN.md §7): util-linux `logger` and a
// private rsyslogd started by the test. N sent = N received, with the fields.

#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <memory>

#include "common/es_emulator.h"
#include "common/timeutil.h"
#include "syslog_test_app.h"

namespace sluice::syslog {
namespace {

using namespace sluice::syslog::testing;
using sluice::testing::RunCommand;
using sluice::testing::Subprocess;
using sluice::testing::TcpClient;
using sluice::testing::WaitFor;

std::string LocalHostname() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  std::string h = buf;
  return h.substr(0, h.find('.'));
}

struct LoggerCase {
  const char* name;
  bool tcp;
  bool rfc5424;
  bool octet_count;
};

// Starts a private rsyslogd on `conf` (own work directory, pid file and log in `dir`)
// and waits until its imtcp listener on `port` accepts connections.
std::unique_ptr<Subprocess> StartRsyslog(const std::string& dir, const std::string& conf, int port) {
  sluice::testing::WriteFile(dir + "/rsyslog.conf", conf);
  std::string check;
  EXPECT_EQ(RunCommand({"rsyslogd", "-N1", "-f", dir + "/rsyslog.conf"}, &check), 0) << check;
  auto rsyslogd = std::make_unique<Subprocess>(
      std::vector<std::string>{"rsyslogd", "-n", "-f", dir + "/rsyslog.conf", "-i", dir + "/rsyslogd.pid"},
      dir + "/rsyslogd.log");
  EXPECT_TRUE(rsyslogd->ok());
  EXPECT_TRUE(WaitFor([&] {
    TcpClient probe;
    return probe.Connect("127.0.0.1", port);
  })) << sluice::testing::ReadFile(dir + "/rsyslogd.log");
  return rsyslogd;
}

// rsyslog's imtcp listener with its relay ruleset header.
std::string RsyslogRelay(const std::string& dir, int port, const std::string& global_extra = "") {
  return StrCat("global(workDirectory=\"", dir, "\" maxMessageSize=\"64k\"", global_extra, ")\n",
                "module(load=\"imtcp\")\n", "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"", port,
                "\" ruleset=\"fwd\")\n", "ruleset(name=\"fwd\") {\n");
}

class SyslogLogger : public ::testing::TestWithParam<LoggerCase> {};

TEST_P(SyslogLogger, NSentNReceived) {
  const LoggerCase& c = GetParam();
  SyslogApp s(StrCat("  - type: syslog\n    listen: 127.0.0.1:0\n    protocol: ", c.tcp ? "tcp" : "udp", "\n"));
  ASSERT_TRUE(s.ok());
  const int n = 100;
  std::string file = s.dir().File("lines.txt");
  {
    std::ofstream f(file);
    for (int i = 0; i < n; ++i) f << c.name << " line " << i << "\n";
  }
  std::vector<std::string> argv = {"logger", "--server", "127.0.0.1", "--port", std::to_string(s.Port()),
                                   c.tcp ? "--tcp" : "--udp", c.rfc5424 ? "--rfc5424" : "--rfc3164",
                                   "--tag", "syslog-send", "--id=4242", "--priority", "local0.info",
                                   "--file", file};
  if (c.rfc5424) argv.push_back("--msgid=ORD1");
  if (c.octet_count) argv.push_back("--octet-count");
  std::string out;
  ASSERT_EQ(RunCommand(argv, &out), 0) << out;
  auto lines = s.WaitLines(n);
  ASSERT_EQ(lines.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    std::string l = FindMessage(lines, StrCat(c.name, " line ", i));
    ASSERT_NE(l, "{}") << i;
    EXPECT_EQ(Field(l, "tags"), "<missing>") << l;
    EXPECT_EQ(Field(l, "log.syslog.priority"), "134");
    EXPECT_EQ(Field(l, "log.syslog.facility.name"), "local0");
    EXPECT_EQ(Field(l, "log.syslog.severity.name"), "Informational");
    EXPECT_EQ(Field(l, "log.syslog.appname"), "syslog-send");
    EXPECT_EQ(Field(l, "process.name"), "syslog-send");
    EXPECT_EQ(Field(l, "process.pid"), "4242");
    EXPECT_EQ(Field(l, "log.syslog.hostname"), LocalHostname());
    EXPECT_EQ(Field(l, "host.hostname"), LocalHostname());
    EXPECT_EQ(Field(l, "source.ip"), "127.0.0.1");
    if (c.rfc5424) {
      EXPECT_EQ(Field(l, "log.syslog.version"), "1");
      EXPECT_EQ(Field(l, "log.syslog.msgid"), "ORD1");
      EXPECT_EQ(Field(l, "log.syslog.structured_data.timeQuality.tzKnown"), "1");
    } else {
      EXPECT_EQ(Field(l, "log.syslog.version"), "<missing>");
    }
    // logger stamps the current time: @timestamp is within a minute of now.
    int64_t ts = 0;
    ASSERT_TRUE(ParseRfc3339Ms(Field(l, "@timestamp"), &ts)) << l;
    EXPECT_LT(std::llabs(ts - NowMs()), 60'000) << l;
  }
  EXPECT_EQ(s.Metric("sluice_component_errors_total", {{"component", "syslog"}}), 0);
}

INSTANTIATE_TEST_SUITE_P(
    AllModes, SyslogLogger,
    ::testing::Values(LoggerCase{"tcp3164", true, false, false}, LoggerCase{"tcp3164oc", true, false, true},
                      LoggerCase{"tcp5424", true, true, false}, LoggerCase{"tcp5424oc", true, true, true},
                      LoggerCase{"udp3164", false, false, false}, LoggerCase{"udp3164oc", false, false, true},
                      LoggerCase{"udp5424", false, true, false}, LoggerCase{"udp5424oc", false, true, true}),
    [](const ::testing::TestParamInfo<LoggerCase>& i) { return std::string(i.param.name); });

// A private rsyslogd (own config, work directory and pid file; the system
// rsyslog is never touched) receives from logger on its own port and forwards
// to sluice with omfwd in every framing x template combination.
TEST(SyslogRsyslog, ForwardsInEveryFramingAndTemplate) {
  struct Route {
    const char* id;
    const char* framing;
    const char* tmpl;
    bool rfc5424;
  };
  const std::vector<Route> routes = {
      {"trad_lf", "traditional", "RSYSLOG_TraditionalForwardFormat", false},
      {"trad_oc", "octet-counted", "RSYSLOG_TraditionalForwardFormat", false},
      {"p23_lf", "traditional", "RSYSLOG_SyslogProtocol23Format", true},
      {"p23_oc", "octet-counted", "RSYSLOG_SyslogProtocol23Format", true},
      {"fwd_lf", "traditional", "RSYSLOG_ForwardFormat", false},
  };
  std::string inputs;
  for (const auto& r : routes) inputs += StrCat("  - type: syslog\n    id: ", r.id, "\n    listen: 127.0.0.1:0\n");
  SyslogApp s(inputs);
  ASSERT_TRUE(s.ok());

  const std::string dir = s.dir().path();
  const int rport = sluice::testing::FreeTcpPort();
  std::string conf = RsyslogRelay(dir, rport);
  for (size_t i = 0; i < routes.size(); ++i) {
    StrAppend(&conf, "  action(type=\"omfwd\" target=\"127.0.0.1\" port=\"", s.Port(i), "\" protocol=\"tcp\" ",
              "TCP_Framing=\"", routes[i].framing, "\" template=\"", routes[i].tmpl, "\")\n");
  }
  conf += "}\n";
  auto rsyslogd = StartRsyslog(dir, conf, rport);
  ASSERT_FALSE(::testing::Test::HasFailure());

  const int n = 200;
  std::string file = dir + "/lines.txt";
  {
    std::ofstream f(file);
    for (int i = 0; i < n; ++i) f << "relayed line " << i << " with \"quotes\" and \\ backslash\n";
  }
  std::string out;
  ASSERT_EQ(RunCommand({"logger", "--server", "127.0.0.1", "--port", std::to_string(rport), "--tcp", "--rfc3164",
                        "--tag", "pg", "--id=77", "--priority", "local0.warning", "--file", file},
                       &out),
            0)
      << out;

  const size_t total = n * routes.size();
  auto lines = s.WaitLines(total, std::chrono::seconds(30));
  ASSERT_EQ(lines.size(), total) << sluice::testing::ReadFile(dir + "/rsyslogd.log");
  for (size_t r = 0; r < routes.size(); ++r) {
    EXPECT_EQ(s.Metric("sluice_component_received_events_total", {{"component", routes[r].id}}), n) << routes[r].id;
  }
  size_t v5424 = 0;
  for (int i = 0; i < n; ++i) {
    const std::string msg = StrCat("relayed line ", i, " with \"quotes\" and \\ backslash");
    EXPECT_EQ(CountMessage(lines, msg), routes.size()) << i;
  }
  for (const auto& l : lines) {
    EXPECT_EQ(Field(l, "tags"), "<missing>") << l;
    EXPECT_EQ(Field(l, "log.syslog.priority"), "132");
    EXPECT_EQ(Field(l, "log.syslog.severity.name"), "Warning");
    EXPECT_EQ(Field(l, "process.name"), "pg") << l;
    EXPECT_EQ(Field(l, "process.pid"), "77") << l;
    EXPECT_EQ(Field(l, "log.syslog.hostname"), LocalHostname()) << l;
    v5424 += Field(l, "log.syslog.version") == "1";
    int64_t ts = 0;
    ASSERT_TRUE(ParseRfc3339Ms(Field(l, "@timestamp"), &ts)) << l;
    EXPECT_LT(std::llabs(ts - NowMs()), 60'000) << l;
  }
  EXPECT_EQ(v5424, 2u * n);
}

// RFC 5425 with a real TLS sender: rsyslog's gtls driver (rsyslog-gnutls) forwards
// octet-counted RFC 5424 frames to a sluice input that requires client certificates;
// rsyslog checks sluice's server certificate against the CA and the name "localhost".
TEST(SyslogRsyslog, ForwardsOverTlsWithClientCertificate) {
  sluice::testing::TempDir certs;
  ASSERT_TRUE(sluice::testing::MakeTestCertificates(certs.path()));
  const std::string c = certs.path();
  SyslogApp s(StrCat("  - type: syslog\n    id: tls\n    listen: 127.0.0.1:0\n    tls:\n      certificate: ", c,
                     "/server.pem\n      key: ", c, "/server.key\n      client_ca: ", c,
                     "/ca.pem\n      client_auth: required\n"));
  ASSERT_TRUE(s.ok());
  const std::string dir = s.dir().path();
  const int rport = sluice::testing::FreeTcpPort();
  std::string conf = RsyslogRelay(dir, rport,
                                  StrCat(" DefaultNetstreamDriverCAFile=\"", c, "/ca.pem\" DefaultNetstreamDriverCertFile=\"",
                                         c, "/client.pem\" DefaultNetstreamDriverKeyFile=\"", c, "/client.key\""));
  StrAppend(&conf, "  action(type=\"omfwd\" target=\"127.0.0.1\" port=\"", s.Port(), "\" protocol=\"tcp\" ",
            "StreamDriver=\"gtls\" StreamDriverMode=\"1\" StreamDriverAuthMode=\"x509/name\" ",
            "StreamDriverPermittedPeers=\"localhost\" TCP_Framing=\"octet-counted\" ",
            "template=\"RSYSLOG_SyslogProtocol23Format\")\n}\n");
  auto rsyslogd = StartRsyslog(dir, conf, rport);
  ASSERT_FALSE(::testing::Test::HasFailure());

  const int n = 300;
  std::string file = dir + "/lines.txt";
  {
    std::ofstream f(file);
    for (int i = 0; i < n; ++i) f << "tls relayed " << i << " \"quoted\" ü\n";
  }
  std::string out;
  ASSERT_EQ(RunCommand({"logger", "--server", "127.0.0.1", "--port", std::to_string(rport), "--tcp", "--rfc5424",
                        "--tag", "rabbitmq", "--priority", "daemon.err", "--file", file},
                       &out),
            0)
      << out;
  auto lines = s.WaitLines(n, std::chrono::seconds(30));
  ASSERT_EQ(lines.size(), static_cast<size_t>(n)) << sluice::testing::ReadFile(dir + "/rsyslogd.log");
  for (int i = 0; i < n; ++i) EXPECT_EQ(CountMessage(lines, StrCat("tls relayed ", i, " \"quoted\" ü")), 1u) << i;
  for (const auto& l : lines) {
    EXPECT_EQ(Field(l, "tags"), "<missing>") << l;
    EXPECT_EQ(Field(l, "log.syslog.version"), "1") << l;
    EXPECT_EQ(Field(l, "log.syslog.priority"), "27") << l;
    EXPECT_EQ(Field(l, "process.name"), "rabbitmq") << l;
    EXPECT_EQ(Field(l, "log.syslog.hostname"), LocalHostname()) << l;
  }
  EXPECT_EQ(s.Metric("sluice_component_errors_total", {{"reason", "tls_handshake"}}), 0);
}

}  // namespace
}  // namespace sluice::syslog
