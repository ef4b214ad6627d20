// Whole path for alerts: syslog messages into a running sluice, a rule fires,
// the alert reaches a real Alertmanager (and its webhook), and an alert
// document goes through the outputs (the file output here).
#include <gtest/gtest.h>

#include "common/peers.h"
#include "common/strings.h"
#include "common/test_util.h"
#include "common/timeutil.h"
#include "pipeline/app.h"

namespace sluice {
namespace {

// sluice.yml in `dir`: syslog over TCP in, the file output, rules.yml, alerts
// to `am` re-sent every `resend_interval`, `alerting_extra` under `alerting:`.
void WriteConfig(const testing::TempDir& dir, testing::RealAlertmanager& am, const std::string& resend_interval,
                 const std::string& alerting_extra = "") {
  testing::WriteFile(dir.File("sluice.yml"), StrCat("data_dir: ", dir.File("data"), R"(
http: {listen: "127.0.0.1:0"}
inputs:
  - {type: syslog, protocol: tcp, listen: "127.0.0.1:0"}
outputs:
  - {type: file, path: )", dir.File("out.ndjson"), R"(}
rules:
  paths: [rules.yml]
  evaluation_interval: 100ms
  allowed_lateness: 0s
alerting:
)", alerting_extra, R"(  alertmanager:
    urls: ["http://)", am.address(), R"("]
    resend_interval: )", resend_interval, "\n"));
}

TEST(AlertingE2ETest, RuleFiresToAlertmanagerAndOutputs) {
  testing::TempDir dir;
  testing::Webhook hook;
  testing::RealAlertmanager am(dir, hook.address(), testing::FreeTcpPort());
  testing::WriteFile(dir.File("rules.yml"), R"(rules:
  - name: CriticalSyslog
    type: threshold
    match:
      log.syslog.severity.code: {lte: 2}
    group_by: [host.hostname]
    window: 1m
    above: 2
    severity: critical
    annotations:
      summary: "{{ $labels.host_hostname }}: {{ $value }} critical messages"
)");
  WriteConfig(dir, am, "1s", "  index: test-alerts\n");
  auto app = App::LoadFile(dir.File("sluice.yml"), false);
  ASSERT_TRUE(app.ok()) << app.status();
  ASSERT_TRUE((*app)->Start().ok());
  testing::TcpClient c;
  ASSERT_TRUE(c.Connect("127.0.0.1", testing::PortOf((*app)->inputs()[0]->bound_address())));
  std::string lines;
  for (int i = 0; i < 5; ++i) lines += StrCat("<10>Nov 21 05:31:12 mes-core-1 mes[42]: calculation crashed ", i, "\n");
  lines += "<134>Nov 21 05:31:12 mes-core-1 mes[42]: just info\n";
  ASSERT_TRUE(c.WriteAll(lines));

  ASSERT_TRUE(testing::WaitFor([&] {
    return am.Alerts().find("\"alertname\":\"CriticalSyslog\"") != std::string::npos;
  })) << am.Alerts();
  std::string alerts = am.Alerts();
  EXPECT_NE(alerts.find("\"host_hostname\":\"mes-core-1\""), std::string::npos) << alerts;
  EXPECT_NE(alerts.find("\"summary\":\"mes-core-1: 5 critical messages\""), std::string::npos) << alerts;
  EXPECT_NE(alerts.find("\"rule_hash\""), std::string::npos) << alerts;
  ASSERT_TRUE(testing::WaitFor([&] { return hook.All().find("CriticalSyslog") != std::string::npos; }));

  // The six syslog events and an alert document went through the file output.
  ASSERT_TRUE(testing::WaitFor([&] {
    return testing::ReadFile(dir.File("out.ndjson")).find("\"alertname\":\"CriticalSyslog\"") != std::string::npos;
  }));
  auto lines_out = testing::ReadLines(dir.File("out.ndjson"));
  int events = 0;
  for (const auto& l : lines_out) events += l.find("\"log\":{\"syslog\"") != std::string::npos ||
                                             l.find("\"syslog\":") != std::string::npos;
  EXPECT_EQ(events, 6);
  (*app)->Shutdown();
}

// The "endsAt" of the only alert in Alertmanager, if it is `name` ("" if none).
std::string EndsAt(testing::RealAlertmanager& am, const std::string& name) {
  const std::string alerts = am.Alerts();
  if (alerts.find(StrCat("\"alertname\":\"", name, "\"")) == std::string::npos) return "";
  const size_t at = alerts.find("\"endsAt\":\"");
  if (at == std::string::npos) return "";
  return alerts.substr(at + 10, alerts.find('"', at + 10) - at - 10);
}

// Issue 6: an alert firing when sluice stops is restored at the next start:
// sent to Alertmanager again at once (its endsAt moves on, so it never
// expires in between), not fired a second time, and resolved later.
TEST(AlertingE2ETest, FiringAlertSurvivesARestartAndIsResolved) {
  testing::TempDir dir;
  testing::Webhook hook;
  testing::RealAlertmanager am(dir, hook.address(), testing::FreeTcpPort());
  testing::WriteFile(dir.File("rules.yml"), R"(rules:
  - name: CriticalSyslog
    type: threshold
    match:
      log.syslog.severity.code: {lte: 2}
    window: 16s
    above: 2
    severity: critical
)");
  WriteConfig(dir, am, "1m");
  const std::string alerts_file = dir.File("data/alerts/alerts.ndjson");
  auto count = [&](const std::string& state) {
    size_t n = 0;
    for (const auto& l : testing::ReadLines(alerts_file)) n += l.find(StrCat("\"state\":\"", state, "\"")) != std::string::npos;
    return n;
  };
  std::string ends_before;
  {
    auto app = App::LoadFile(dir.File("sluice.yml"), false);
    ASSERT_TRUE(app.ok()) << app.status();
    ASSERT_TRUE((*app)->Start().ok());
    testing::TcpClient c;
    ASSERT_TRUE(c.Connect("127.0.0.1", testing::PortOf((*app)->inputs()[0]->bound_address())));
    // Event times of now: the notifier forgets a resolved alert whose resolve
    // time is older than resolved_retention before sending it.
    std::string lines;
    for (int i = 0; i < 5; ++i) {
      lines += StrCat("<10>1 ", FormatRfc3339Ms(NowMs()), " mes-core-1 mes 42 - - calculation crashed ", i, "\n");
    }
    ASSERT_TRUE(c.WriteAll(lines));
    ASSERT_TRUE(testing::WaitFor([&] { return !EndsAt(am, "CriticalSyslog").empty(); })) << am.Alerts();
    ends_before = EndsAt(am, "CriticalSyslog");
    (*app)->Shutdown();
  }
  ASSERT_EQ(count("firing"), 1u);
  auto app = App::LoadFile(dir.File("sluice.yml"), false);
  ASSERT_TRUE(app.ok()) << app.status();
  ASSERT_TRUE((*app)->Start().ok());
  ASSERT_EQ((*app)->rules()->ActiveAlerts().size(), 1u);
  // Sent again at start (a minute before the next re-send would be due).
  ASSERT_TRUE(testing::WaitFor([&] { return EndsAt(am, "CriticalSyslog") != ends_before; }, std::chrono::seconds(10)))
      << ends_before << " " << am.Alerts();
  // Resolved once the 16 s window has passed (stream time goes on from the restored clock).
  ASSERT_TRUE(testing::WaitFor([&] { return count("resolved") == 1; }, std::chrono::seconds(40)))
      << testing::ReadFile(alerts_file);
  ASSERT_TRUE(testing::WaitFor([&] { return hook.All().find("\"status\":\"resolved\"") != std::string::npos; },
                               std::chrono::seconds(20)))
      << hook.All();
  EXPECT_EQ(count("firing"), 1u) << "fired again after the restart";
  (*app)->Shutdown();
}

}  // namespace
}  // namespace sluice
