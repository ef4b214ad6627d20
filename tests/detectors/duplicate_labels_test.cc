// The duplicate detector keeps its groups' labels once per group and shard
// (not in every fingerprint): random streams of many groups and fingerprints,
// times in and out of order, late events, evaluations that expire
// fingerprints (and with them their groups' labels), groups that go and come
// back, against a plain model of the detector (a std::map per fingerprint of
// label values): the same groups, labels, values and evidence at every
// evaluation, before and after the state is saved and loaded into a new engine.

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "detectors/rules_harness.h"

namespace sluice::detectors {
namespace {

using testing::Ev;
using testing::kT0;
using testing::RulesHarness;

struct ModelFingerprint {
  int64_t first = 0, last_seen = 0;
  uint32_t count = 0;
};

// group label values -> fingerprint value -> state; what DuplicateDetector does per update.
struct Model {
  int64_t window_ms = 0;
  uint32_t max_repeats = 0;
  std::map<Labels, std::map<std::string, ModelFingerprint>> groups;

  void Add(const Labels& group, const std::string& fp, int64_t ts) {
    auto [it, created] = groups[group].try_emplace(fp);
    ModelFingerprint& f = it->second;
    if (created || ts >= f.first + window_ms) {
      f = ModelFingerprint{ts, ts, 1};
      return;
    }
    if (ts < f.first) {
      if (ts <= f.last_seen - window_ms) return;  // late
      f.first = ts;
    }
    f.last_seen = std::max(f.last_seen, ts);
    ++f.count;
  }
  // Evaluate's answer, as sorted text: labels, value, evidence.
  std::vector<std::string> Evaluate(int64_t eval_ms) {
    std::vector<std::string> out;
    for (auto g = groups.begin(); g != groups.end();) {
      uint32_t max_count = 0, fps = 0;
      uint64_t wasted = 0;
      for (auto f = g->second.begin(); f != g->second.end();) {
        if (f->second.last_seen < eval_ms - window_ms) {
          f = g->second.erase(f);
          continue;
        }
        if (f->second.count > max_repeats) {
          max_count = std::max(max_count, f->second.count);
          wasted += f->second.count - 1;
          ++fps;
        }
        ++f;
      }
      if (fps) {
        std::string s;
        for (const auto& [k, v] : g->first) StrAppend(&s, k, "=", v, ",");
        StrAppend(&s, " value=", max_count, " wasted=", wasted, " fingerprints=", fps);
        out.push_back(s);
      }
      g = g->second.empty() ? groups.erase(g) : std::next(g);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

std::vector<std::string> DetectorText(Detector* d, int64_t eval_ms) {
  std::vector<GroupResult> active;
  d->Evaluate(eval_ms, &active);
  std::vector<std::string> out;
  for (const GroupResult& r : active) {
    std::string s;
    for (const auto& [k, v] : r.labels) StrAppend(&s, k, "=", v, ",");
    std::string wasted, fps;
    for (const auto& [k, v] : r.evidence) {
      if (k == "wasted_calculations") wasted = v;
      if (k == "fingerprints") fps = v;
    }
    StrAppend(&s, " value=", r.value, " wasted=", wasted, " fingerprints=", fps);
    out.push_back(s);
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(DuplicateLabelsTest, SameAlertsAsPerFingerprintLabelsModel) {
  size_t results_seen = 0;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    std::mt19937_64 rng(seed);
    const bool two_fields = rng() % 2;
    Model model;
    model.window_ms = std::vector<int64_t>{1000, 10'000, 60'000}[rng() % 3];
    model.max_repeats = static_cast<uint32_t>(rng() % 3);
    const std::string yaml =
        StrCat("rules:\n  - name: D\n    type: duplicate\n    match: {n: {exists: true}}\n    group_by: ",
               two_fields ? "[service.name, host.name]" : "[service.name]", "\n    fingerprint: [n]\n    window: ",
               model.window_ms / 1000, "s\n    max_repeats: ", model.max_repeats, "\n");
    auto harness = std::make_unique<RulesHarness>();
    ASSERT_TRUE(harness->Load(yaml).ok()) << harness->errors.ToString() << yaml;
    const int services = 1 + static_cast<int>(rng() % 60);
    const uint64_t fp_values = 1 + rng() % 400;
    int64_t t = kT0;
    for (int b = 0; b < 40; ++b) {
      std::vector<std::string> evs;
      const int n = 1 + static_cast<int>(rng() % 600);
      for (int k = 0; k < n; ++k) {
        t += static_cast<int64_t>(rng() % 40);
        int64_t ts = t;
        const uint64_t r = rng() % 100;
        if (r < 5) ts -= static_cast<int64_t>(rng() % 5000);           // out of order
        if (r == 5) ts -= 3 * model.window_ms;                          // late
        // Service names of 1 to 24 bytes (inline and heap labels).
        const std::string svc = StrCat("svc-", std::string(rng() % 20, 'x'), rng() % static_cast<uint64_t>(services));
        const std::string host = StrCat("h", rng() % 3);
        const std::string fp = StrCat(rng() % fp_values);
        evs.push_back(Ev(ts, StrCat(R"("service":{"name":")", svc, R"("},"host":{"name":")", host,
                                    R"("},"n":")", fp, R"(")")));
        Labels group = {{"service_name", svc}};
        if (two_fields) group.emplace_back("host_name", host);
        model.Add(group, fp, ts);
      }
      harness->Feed(evs);
      if (rng() % 3 == 0) {
        const int64_t eval = t - static_cast<int64_t>(rng() % static_cast<uint64_t>(2 * model.window_ms));
        const std::vector<std::string> want = model.Evaluate(eval);
        results_seen += want.size();
        ASSERT_EQ(DetectorText(harness->engine->detector("D"), eval), want) << "seed " << seed << " batch " << b;
      }
      if (rng() % 8 == 0) {
        // Saved and loaded into a new engine, which goes on from there.
        StateWriter w;
        harness->engine->detector("D")->SaveState(w);
        auto next = std::make_unique<RulesHarness>();
        ASSERT_TRUE(next->Load(yaml).ok());
        StateReader r(w.buffer());
        ASSERT_TRUE(next->engine->detector("D")->LoadState(r)) << "seed " << seed;
        // The same bytes saved again (the order of a shard's entries aside:
        // the same size, and the same answers below).
        StateWriter again;
        next->engine->detector("D")->SaveState(again);
        ASSERT_EQ(again.size(), w.size());
        harness = std::move(next);
      }
    }
    const std::vector<std::string> want = model.Evaluate(t);
    ASSERT_EQ(DetectorText(harness->engine->detector("D"), t), want) << "seed " << seed;
    EXPECT_EQ(harness->engine->detector("D")->groups(), [&] {
      size_t n = 0;
      for (const auto& [g, fps] : model.groups) n += fps.size();
      return n;
    }());
  }
  EXPECT_GT(results_seen, 200u);
}

}  // namespace
}  // namespace sluice::detectors
