#include "simulator/scorecard.h"

#include <gtest/gtest.h>

#include <sstream>

#include "common/test_util.h"

namespace sluice::simulator {
namespace {

TEST(ScorecardTest, CatchesByKeyOrByServiceAlertAndListsTheUnexplained) {
  sluice::testing::TempDir dir;
  sluice::testing::WriteFile(dir.File("truth.ndjson"), R"({"fault":"lost_orders","start":"2026-11-21T10:00:00.000Z","key":"","expected_alert":"OrderStuck"}
{"fault":"lost_orders","start":"2026-11-21T10:01:00.000Z","key":"ORD-1","expected_alert":"OrderStuck"}
{"fault":"lost_orders","start":"2026-11-21T10:02:00.000Z","key":"ORD-2","expected_alert":"OrderStuck"}
{"fault":"duplicate_calculation","start":"2026-11-21T10:05:00.000Z","key":"ORD-9","expected_alert":"DuplicateCalculation"}
{"fault":"duplicate_calculation","start":"2026-11-21T10:06:00.000Z","key":"ORD-10","expected_alert":"DuplicateCalculation"}
)");
  sluice::testing::WriteFile(dir.File("alerts.ndjson"), R"({"labels":{"alertname":"OrderStuck","order_id":"ORD-1"},"state":"pending","startsAt":"2026-11-21T10:02:00.000Z"}
{"labels":{"alertname":"OrderStuck","order_id":"ORD-1"},"state":"firing","startsAt":"2026-11-21T10:02:30.000Z"}
{"labels":{"alertname":"DuplicateCalculation","service_name":"mes-api"},"state":"firing","startsAt":"2026-11-21T10:05:40.000Z"}
{"labels":{"alertname":"FatalErrors","service_name":"crm"},"state":"firing","startsAt":"2026-11-21T10:07:00.000Z"}
)");
  std::ostringstream out;
  ScorecardResult r = WriteScorecard(dir.File("truth.ndjson"), dir.File("alerts.ndjson"), out);
  std::string s = out.str();
  EXPECT_EQ(r.faults, 4);
  EXPECT_EQ(r.caught, 3);
  EXPECT_EQ(r.unexplained_alerts, 1);
  EXPECT_NE(s.find("ORD-1            OrderStuck             yes      1m30s"), std::string::npos) << s;
  EXPECT_NE(s.find("ORD-2            OrderStuck             NO"), std::string::npos) << s;
  EXPECT_NE(s.find("ORD-9            DuplicateCalculation   yes      40s"), std::string::npos) << s;
  EXPECT_NE(s.find("ORD-10           DuplicateCalculation   yes      0s (already firing)"), std::string::npos) << s;
  EXPECT_NE(s.find("alertname=FatalErrors, service_name=crm"), std::string::npos) << s;
  EXPECT_NE(s.find("3 of 4 injected faults caught, 1 unexplained alerts"), std::string::npos) << s;
}

TEST(ScorecardTest, SideEffectAlertsAreExplainedOnlyForTheirFaultsService) {
  sluice::testing::TempDir dir;
  sluice::testing::WriteFile(dir.File("truth.ndjson"), R"({"fault":"request_storm","start":"2026-11-21T10:00:00.000Z","end":"2026-11-21T10:05:00.000Z","key":"shop-api","service":"shop-api","expected_alert":"RequestStorm","side_effect_alerts":["RequestRateSpike"]}
{"fault":"failed_calculations","start":"2026-11-21T11:00:00.000Z","key":"ORD-7","expected_alert":"OrderStuck","side_effect_alerts":["MessagesDeadLettered"]}
)");
  sluice::testing::WriteFile(dir.File("alerts.ndjson"), R"({"labels":{"alertname":"RequestStorm","service_name":"crm-api","client_ip":"192.0.2.1"},"state":"firing","startsAt":"2026-11-21T10:01:00.000Z"}
{"labels":{"alertname":"RequestStorm","service_name":"shop-api","client_ip":"192.0.2.66"},"state":"firing","startsAt":"2026-11-21T10:01:10.000Z"}
{"labels":{"alertname":"RequestRateSpike","service_name":"shop-api"},"state":"firing","startsAt":"2026-11-21T10:03:00.000Z"}
{"labels":{"alertname":"RequestRateSpike","service_name":"crm-api"},"state":"firing","startsAt":"2026-11-21T10:03:00.000Z"}
{"labels":{"alertname":"OrderStuck","order_id":"ORD-7","reason":"failed"},"state":"firing","startsAt":"2026-11-21T11:00:05.000Z"}
{"labels":{"alertname":"MessagesDeadLettered","rabbitmq_queue":"mes.calculations"},"state":"firing","startsAt":"2026-11-21T11:00:10.000Z"}
{"labels":{"alertname":"MessagesDeadLettered","rabbitmq_queue":"mes.calculations"},"state":"firing","startsAt":"2026-11-21T13:00:10.000Z"}
)");
  std::ostringstream out;
  ScorecardResult r = WriteScorecard(dir.File("truth.ndjson"), dir.File("alerts.ndjson"), out);
  std::string s = out.str();
  EXPECT_EQ(r.faults, 2);
  EXPECT_EQ(r.caught, 2);
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0].delay_ms, 70'000);  // the shop-api storm alert, not the crm-api one
  EXPECT_EQ(r.rows[1].delay_ms, 5'000);
  EXPECT_EQ(r.side_effect_alerts, 2);
  // The crm-api storm and spike, and a dead letter two hours later.
  EXPECT_EQ(r.unexplained_alerts, 3);
  EXPECT_NE(s.find("{alertname=RequestRateSpike, service_name=shop-api}  <- request_storm shop-api"), std::string::npos)
      << s;
  EXPECT_NE(s.find("{alertname=MessagesDeadLettered, rabbitmq_queue=mes.calculations}  <- failed_calculations ORD-7"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("2 of 2 injected faults caught, 3 unexplained alerts (2 side-effect alerts)"), std::string::npos)
      << s;
}

}  // namespace
}  // namespace sluice::simulator
