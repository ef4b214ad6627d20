// The Alertmanager notifier against a real Alertmanager (Debian
// prometheus-alertmanager 0.25) started by the test on loopback, with a
// webhook receiver run by the test.
#include "sinks/alertmanager/alertmanager.h"

#include <gtest/gtest.h>

#include <mutex>

#include "common/strings.h"
#include "common/test_util.h"
#include "common/timeutil.h"
#include "common/peers.h"

namespace sluice {
namespace {

using testing::HttpRequest;
using testing::RealAlertmanager;
using testing::Webhook;
using testing::WaitFor;

AlertmanagerAlert MakeAlert(const std::string& service) {
  AlertmanagerAlert a;
  a.labels = {{"alertname", "FatalErrors"}, {"severity", "critical"}, {"service_name", service}};
  a.annotations = {{"summary", StrCat("FATAL errors in ", service)}, {"value", "7"}};
  a.starts_at_ms = NowMs();
  return a;
}

TEST(AlertmanagerEncodeTest, FiringHasEndsAtAheadResolvedHasResolveTime) {
  AlertmanagerAlert a = MakeAlert("mes-core");
  a.starts_at_ms = 1795239059000;
  std::string body = EncodeAlertmanagerAlerts({&a}, 1795239060000, 60'000);
  EXPECT_EQ(body,
            R"([{"labels":{"alertname":"FatalErrors","service_name":"mes-core","severity":"critical"},)"
            R"("annotations":{"summary":"FATAL errors in mes-core","value":"7"},)"
            R"("startsAt":"2026-11-21T05:30:59.000Z","endsAt":"2026-11-21T05:35:00.000Z"}])");
  a.resolved = true;
  a.resolved_at_ms = 1795239070000;
  body = EncodeAlertmanagerAlerts({&a}, 1795239080000, 60'000);
  EXPECT_NE(body.find(R"("endsAt":"2026-11-21T05:31:10.000Z")"), std::string::npos) << body;
}

TEST(AlertmanagerTest, FiresResolvesAndSurvivesRestart) {
  testing::TempDir dir;
  Webhook hook;
  RealAlertmanager am(dir, hook.address(), testing::FreeTcpPort());
  MetricsRegistry metrics;
  AlertmanagerOptions opts;
  opts.urls = {"http://" + am.address()};
  opts.resend_interval_ms = 1000;
  opts.retry_initial_ms = 100;
  opts.retry_max_ms = 500;
  AlertmanagerNotifier n(opts, &metrics);
  ASSERT_TRUE(n.Start().ok());

  AlertmanagerAlert a = MakeAlert("mes-core");
  n.Update(a);
  ASSERT_TRUE(WaitFor([&] { return am.Alerts().find("\"service_name\":\"mes-core\"") != std::string::npos; }))
      << am.Alerts();
  ASSERT_TRUE(WaitFor([&] { return hook.All().find("\"status\":\"firing\"") != std::string::npos; })) << hook.All();
  EXPECT_NE(hook.All().find("FATAL errors in mes-core"), std::string::npos);

  // Alertmanager goes away; a second alert fires meanwhile and waits.
  am.Stop();
  AlertmanagerAlert b = MakeAlert("shop-api");
  n.Update(b);
  ASSERT_TRUE(WaitFor([&] { return metrics.Sum("sluice_component_retried_events_total") > 0; }));
  // A new Alertmanager knows nothing (alerts live in memory); the re-sends bring both back.
  am.Start();
  ASSERT_TRUE(WaitFor([&] {
    std::string all = am.Alerts();
    return all.find("\"service_name\":\"mes-core\"") != std::string::npos &&
           all.find("\"service_name\":\"shop-api\"") != std::string::npos;
  })) << am.Alerts();

  // Resolve: the alert disappears from GET /api/v2/alerts and the webhook hears "resolved".
  a.resolved = true;
  a.resolved_at_ms = NowMs();
  n.Update(a);
  ASSERT_TRUE(WaitFor([&] { return am.Alerts().find("\"service_name\":\"mes-core\"") == std::string::npos; }))
      << am.Alerts();
  ASSERT_TRUE(WaitFor([&] { return hook.All().find("\"status\":\"resolved\"") != std::string::npos; })) << hook.All();
  EXPECT_NE(am.Alerts().find("\"service_name\":\"shop-api\""), std::string::npos);
  n.Stop();
}

// Logs replayed or shipped late: the alert's times are event times, hours
// old. Its resolve must still be sent (retention counts from when the
// notifier learned it, not from the resolve's event time), and re-sent.
TEST(AlertmanagerTest, ResolveWithOldEventTimeIsSent) {
  Webhook am;  // stands in for Alertmanager: records every POST body
  MetricsRegistry metrics;
  AlertmanagerOptions opts;
  opts.urls = {"http://" + am.address()};
  opts.resend_interval_ms = 200;
  opts.resolved_retention_ms = 60'000;
  AlertmanagerNotifier n(opts, &metrics);
  ASSERT_TRUE(n.Start().ok());
  AlertmanagerAlert a = MakeAlert("mes-core");
  a.starts_at_ms = NowMs() - 3 * 3600'000;
  a.resolved = true;
  a.resolved_at_ms = NowMs() - 2 * 3600'000;
  n.Update(a);
  const std::string ends_at = StrCat("\"endsAt\":\"", FormatRfc3339Ms(a.resolved_at_ms), "\"");
  ASSERT_TRUE(WaitFor([&] {
    std::string all = am.All();
    size_t first = all.find(ends_at);
    return first != std::string::npos && all.find(ends_at, first + 1) != std::string::npos;  // sent, then re-sent
  })) << am.All();
  EXPECT_EQ(n.tracked(), 1u);
  n.Stop();
}

TEST(AlertmanagerTest, BoundedWhileDown) {
  MetricsRegistry metrics;
  AlertmanagerOptions opts;
  opts.urls = {StrCat("http://127.0.0.1:", testing::FreeTcpPort())};  // nobody listens
  opts.max_alerts = 5;
  AlertmanagerNotifier n(opts, &metrics);
  ASSERT_TRUE(n.Start().ok());
  for (int i = 0; i < 20; ++i) n.Update(MakeAlert(StrCat("svc-", i)));
  EXPECT_EQ(n.tracked(), 5u);
  EXPECT_EQ(metrics.Sum("sluice_component_discarded_events_total", {{"reason", "alert_capacity"}}), 15);
  n.Stop();
}

}  // namespace
}  // namespace sluice
