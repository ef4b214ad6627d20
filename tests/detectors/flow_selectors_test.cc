// The flow's stage of each event told by the engine from the ConditionSet's
// masks (Detector::selectors(), Update::value) against the detector testing
// its stage conditions itself (RuleEngineOptions::engine_selectors = false):
// random flow rules (stages whose conditions overlap, failed stages, regexes,
// any/not, a `match:` of their own or the implied one) and random streams
// (orders in and out of order, repeats, events without the key, late events)
// must give the same alerts, flow and rule metrics and saved state.

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <cstring>
#include <sstream>

#include "detectors/rules_harness.h"

namespace sluice::detectors {
namespace {

using testing::Ev;
using testing::kT0;
using testing::Pick;
using testing::RulesHarness;
using testing::SortedAlerts;

const std::vector<std::string> kActions = {"created", "published", "stored", "stage", "done", "failed", "acked"};
const std::vector<std::string> kServices = {"shop", "mq", "mes"};

std::string RandomMatch(std::mt19937_64& rng) {
  const std::string a = Pick(rng, kActions), b = Pick(rng, kActions), svc = Pick(rng, kServices);
  switch (rng() % 8) {
    case 0: return StrCat("{event.action: ", a, "}");
    case 1: return StrCat("{event.action: [", a, ", ", b, "]}");
    case 2: return StrCat("{service.name: ", svc, ", event.action: ", a, "}");
    case 3: return StrCat("{event.action: stage, calculation.stage: ", rng() % 4, "}");
    case 4: return StrCat("{calculation.stage: {gte: ", rng() % 4, "}}");
    case 5: return StrCat("{event.action: {regex: \"", a.substr(0, 3), "|", b.substr(1, 3), "\"}}");
    case 6: return StrCat("{any: [{event.action: ", a, "}, {service.name: ", svc, "}]}");
    default: return StrCat("{event.action: ", a, ", not: {service.name: ", svc, "}}");
  }
}

std::string RandomFlowRule(std::mt19937_64& rng) {
  std::string y = "rules:\n  - name: Flow\n    type: flow\n    key: order.id\n";
  if (rng() % 4 == 0) y += StrCat("    match: ", RandomMatch(rng), "\n");
  y += "    stages:\n";
  const int stages = 2 + static_cast<int>(rng() % 9);
  for (int i = 0; i < stages; ++i) {
    y += StrCat("      - name: s", i, "\n        match: ", RandomMatch(rng), "\n");
    if (i > 0) y += StrCat("        within: ", Pick(rng, {"1s", "5s", "30s", "2m"}), "\n");
  }
  const int failed = static_cast<int>(rng() % 3);
  if (failed) y += "    failed:\n";
  for (int i = 0; i < failed; ++i) y += StrCat("      - name: f", i, "\n        match: ", RandomMatch(rng), "\n");
  // max_flows 16: evictions, of the same flows in both engines while a
  // shard's flows are no more than the 8 an eviction probes (FlowDetector::Evict).
  static_assert(16 / kShards <= 8);
  y += StrCat("    retention: ", Pick(rng, {"10s", "5m"}), "\n    max_flows: ", Pick(rng, {"16", "1000"}), "\n");
  return y;
}

// The flow and rule series (not sluice_rule_state_bytes: a table's capacity
// depends on where its tombstones fell).
std::vector<std::string> FlowMetrics(const MetricsRegistry& m) {
  std::vector<std::string> out;
  std::istringstream in(m.RenderPrometheus());
  for (std::string line; std::getline(in, line);) {
    if ((line.rfind("sluice_flow_", 0) == 0 || line.rfind("sluice_rule_", 0) == 0) &&
        line.rfind("sluice_rule_state_bytes", 0) != 0) {
      out.push_back(line);
    }
  }
  return out;
}

// The saved flows, one record each, sorted (the blob lists them in table order).
std::vector<std::string> SavedFlows(Detector* d) {
  StateWriter w;
  d->SaveState(w);
  const std::string& b = w.buffer();
  size_t p = 8;
  auto u32 = [&] {
    uint32_t v;
    std::memcpy(&v, b.data() + p, 4);
    p += 4;
    return v;
  };
  auto skip_str = [&] {
    uint16_t n;
    std::memcpy(&n, b.data() + p, 2);
    p += 2 + n;
  };
  for (int list = 0; list < 2; ++list) {
    for (uint32_t n = u32(); n > 0; --n) skip_str();
  }
  std::vector<std::string> out;
  while (b.size() - p > 16) {
    const size_t start = p;
    p += 8 + 8 + 3;
    skip_str();
    out.push_back(b.substr(start, p - start));
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(FlowSelectorsTest, SameResultsAsTheDetectorTestingItsStages) {
  size_t alerts_seen = 0, flows_saved = 0;
  for (uint64_t seed = 1; seed <= 80; ++seed) {
    std::mt19937_64 rng(seed);
    const std::string yaml = RandomFlowRule(rng);
    RuleEngineOptions o{.allowed_lateness_ms = static_cast<int64_t>(rng() % 3) * 2000};
    RulesHarness engine, own;
    ASSERT_TRUE(engine.Load(yaml, o).ok()) << engine.errors.ToString() << yaml;
    o.engine_selectors = false;
    ASSERT_TRUE(own.Load(yaml, o).ok()) << own.errors.ToString() << yaml;
    Detector* de = engine.engine->detector("Flow");
    Detector* dn = own.engine->detector("Flow");
    ASSERT_FALSE(de->selectors().empty());

    int64_t t = kT0;
    for (int b = 0; b < 20; ++b) {
      std::vector<std::string> evs;
      const int n = 1 + static_cast<int>(rng() % 400);
      for (int k = 0; k < n; ++k) {
        t += static_cast<int64_t>(rng() % 300);
        int64_t ts = t;
        const uint64_t r = rng() % 100;
        if (r < 8) ts -= static_cast<int64_t>(rng() % 5000);  // out of order
        if (r == 8) ts -= 10 * 60'000;                        // late
        std::string members = StrCat(R"("event":{"action":")", Pick(rng, kActions), R"("},"service":{"name":")",
                                     Pick(rng, kServices), R"("})");
        if (rng() % 3) StrAppend(&members, R"(,"calculation":{"stage":)", rng() % 4, "}");
        switch (rng() % 12) {
          case 0: break;                                          // no key
          case 1: members += R"(,"order":{"id":""})"; break;      // empty key
          case 2: members += R"(,"order":{"id":null})"; break;
          default: StrAppend(&members, R"(,"order":{"id":"o-)", rng() % 40, R"("})"); break;
        }
        evs.push_back(Ev(ts, members));
      }
      engine.Feed(evs);
      own.Feed(evs);
      if (rng() % 2) {
        const int64_t now = t + static_cast<int64_t>(rng() % 20'000);
        engine.engine->Tick(now);
        own.engine->Tick(now);
        std::vector<std::string> a = SortedAlerts(engine.sink), c = SortedAlerts(own.sink);
        alerts_seen += a.size();
        ASSERT_EQ(a, c) << "seed " << seed << " batch " << b << "\n" << yaml;
      }
      std::vector<std::string> fe = SavedFlows(de), fn = SavedFlows(dn);
      flows_saved += fe.size();
      ASSERT_EQ(fe, fn) << "seed " << seed << " batch " << b << "\n" << yaml;
    }
    for (int64_t later : {0, 60'000, 4'000'000}) {
      engine.engine->Tick(t + later);
      own.engine->Tick(t + later);
      std::vector<std::string> a = SortedAlerts(engine.sink), c = SortedAlerts(own.sink);
      alerts_seen += a.size();
      ASSERT_EQ(a, c) << "seed " << seed << "\n" << yaml;
    }
    EXPECT_EQ(FlowMetrics(engine.metrics), FlowMetrics(own.metrics)) << "seed " << seed << "\n" << yaml;
  }
  EXPECT_GT(alerts_seen, 200u);  // the streams do make flows miss deadlines and fail
  EXPECT_GT(flows_saved, 2000u);
}

}  // namespace
}  // namespace sluice::detectors
