#include "common/metrics.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(MetricsTest, RendersCountersGaugesHistograms) {
  MetricsRegistry r;
  ComponentMetrics m(&r, "beats", "beats_in");
  m.received_events->Inc(5);
  m.Errors("bad_frame")->Inc();
  r.GetGauge("sluice_open_connections", "Open connections.", {{"component", "beats_in"}})->Set(3);
  Histogram* h = r.GetHistogram("sluice_bulk_latency_seconds", "Bulk latency.", {}, {0.1, 1});
  h->Observe(0.05);
  h->Observe(0.5);
  h->Observe(5);
  std::string text = r.RenderPrometheus();
  EXPECT_NE(text.find("sluice_component_received_events_total{component=\"beats_in\",kind=\"beats\"} 5"), std::string::npos)
      << text;
  EXPECT_NE(text.find("sluice_component_errors_total{component=\"beats_in\",kind=\"beats\",reason=\"bad_frame\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("sluice_open_connections{component=\"beats_in\"} 3"), std::string::npos);
  EXPECT_NE(text.find("sluice_bulk_latency_seconds_bucket{le=\"0.1\"} 1"), std::string::npos);
  EXPECT_NE(text.find("sluice_bulk_latency_seconds_bucket{le=\"1\"} 2"), std::string::npos);
  EXPECT_NE(text.find("sluice_bulk_latency_seconds_bucket{le=\"+Inf\"} 3"), std::string::npos);
  EXPECT_NE(text.find("sluice_bulk_latency_seconds_count 3"), std::string::npos);
  EXPECT_NE(text.find("# TYPE sluice_bulk_latency_seconds histogram"), std::string::npos);
  EXPECT_EQ(r.Sum("sluice_component_received_events_total", {{"component", "beats_in"}}), 5);
}

TEST(MetricsTest, SameSeriesIsShared) {
  MetricsRegistry r;
  Counter* a = r.GetCounter("x_total", "x", {{"a", "1"}});
  Counter* b = r.GetCounter("x_total", "x", {{"a", "1"}});
  EXPECT_EQ(a, b);
  a->Inc();
  EXPECT_EQ(r.Value("x_total", {{"a", "1"}}), 1);
}

TEST(MetricsTest, HistogramQuantile) {
  Histogram h({1, 2, 3, 4});
  for (int i = 0; i < 100; ++i) h.Observe(i < 50 ? 0.5 : 3.5);
  EXPECT_LE(h.Quantile(0.25), 1.0);
  EXPECT_GT(h.Quantile(0.9), 3.0);
}

}  // namespace
}  // namespace sluice
