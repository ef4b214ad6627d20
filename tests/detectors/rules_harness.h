#pragma once
// Test harness for the rules engine: rule text in a temp dir, an engine with
// an injected clock (Tick(now) by hand), events built and parsed like the
// pipeline does, and a sink that records every alert.

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <mutex>
#include <string>
#include <vector>

#include "common/strings.h"
#include "common/test_util.h"
#include "common/timeutil.h"
#include "detectors/rule_engine.h"
#include "pipeline/event_parser.h"

namespace sluice::detectors::testing {

// 2027-01-15T08:00:00Z: a multiple of every bucket width the tests use.
inline constexpr int64_t kT0 = 1'800'000'000'000;

class CaptureAlertSink : public AlertSink {
 public:
  void Emit(const Alert& a) override {
    std::lock_guard<std::mutex> l(mu_);
    alerts_.push_back(a);
  }
  std::vector<Alert> alerts() {
    std::lock_guard<std::mutex> l(mu_);
    return alerts_;
  }
  std::vector<std::string> states() {
    std::vector<std::string> out;
    for (const Alert& a : alerts()) out.push_back(AlertStateName(a.state));
    return out;
  }
  void Clear() {
    std::lock_guard<std::mutex> l(mu_);
    alerts_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<Alert> alerts_;
};

inline std::string Label(const Alert& a, const std::string& name) {
  for (const auto& [k, v] : a.labels) {
    if (k == name) return v;
  }
  return "<none>";
}
inline std::string Evidence(const Alert& a, const std::string& name) {
  for (const auto& [k, v] : a.evidence) {
    if (k == name) return v;
  }
  return "<none>";
}

// One of `v`, at random (generated rules and events).
inline std::string Pick(std::mt19937_64& rng, const std::vector<std::string>& v) {
  return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
}

// The alerts `sink` got (clearing it) as comparable text, sorted: one Tick's
// order follows the hash tables', which differs between two engines (absl
// salts it with the table's address). Without the rule file (each harness
// has its own temp dir).
inline std::vector<std::string> SortedAlerts(CaptureAlertSink& sink, bool with_samples = false) {
  std::vector<std::string> out;
  for (Alert a : sink.alerts()) {
    a.rule_file.clear();
    out.push_back(StrCat(AlertToJson(a), " value=", a.value, " group=", a.group));
    if (with_samples) {
      for (const auto& x : a.samples) StrAppend(&out.back(), " sample=", x);
    }
  }
  sink.Clear();
  std::sort(out.begin(), out.end());
  return out;
}

// An event at `ts` with the given JSON members (without braces).
inline std::string Ev(int64_t ts, const std::string& members) {
  return StrCat("{\"@timestamp\":\"", FormatRfc3339Ms(ts), "\"", members.empty() ? "" : ",", members, "}");
}

struct RulesHarness {
  sluice::testing::TempDir dir;
  MetricsRegistry metrics;
  FieldRegistry fields;
  ComponentContext ctx;
  ConfigErrors errors;
  std::unique_ptr<RuleEngine> engine;
  CaptureAlertSink sink;

  RulesHarness() {
    ctx.metrics = &metrics;
    ctx.fields = &fields;
  }
  // Loads `yaml` as the only rule file; lateness 0 unless given.
  absl::Status Load(const std::string& yaml, RuleEngineOptions o = {.allowed_lateness_ms = 0}) {
    sluice::testing::WriteFile(dir.File("rules.yml"), yaml);
    o.base_dir = dir.path();
    engine = std::make_unique<RuleEngine>(o);
    engine->AddSink(&sink);
    return engine->Load({"rules.yml"}, ctx, &errors);
  }
  std::shared_ptr<Batch> MakeBatch(const std::vector<std::string>& events) {
    auto b = std::make_shared<Batch>();
    for (const auto& e : events) b->Append(e);
    b->received_ms = kT0;
    EventParser parser(fields.paths());
    parser.ParseBatch(b.get());
    return b;
  }
  void Feed(const std::vector<std::string>& events) {
    auto b = MakeBatch(events);
    engine->Observe(*b);
  }
  // Feeds `n` events spread evenly over [from, from + span_ms).
  void FeedSpread(int n, int64_t from, int64_t span_ms, const std::string& members) {
    std::vector<std::string> evs;
    for (int i = 0; i < n; ++i) evs.push_back(Ev(from + span_ms * i / n, members));
    Feed(evs);
  }
  double Metric(const std::string& name, const std::string& rule) { return metrics.Value(name, {{"rule", rule}}); }
};

// Differential tests: engines h[0..n) fed the same events, h[0] the
// reference. Ticks them all at `now` and checks that every one sent the
// alerts h[0] sent (sorted, with samples); adds how many to *seen.
inline ::testing::AssertionResult TickAndCompare(RulesHarness* h, size_t n, int64_t now, size_t* seen) {
  for (size_t k = 0; k < n; ++k) h[k].engine->Tick(now);
  const std::vector<std::string> a0 = SortedAlerts(h[0].sink, true);
  *seen += a0.size();
  for (size_t k = 1; k < n; ++k) {
    const std::vector<std::string> ak = SortedAlerts(h[k].sink, true);
    if (ak == a0) continue;
    auto r = ::testing::AssertionFailure() << "engine " << k << " at T0+" << now - kT0 << "ms:";
    for (const auto& a : a0) r << "\n  0: " << a;
    for (const auto& a : ak) r << "\n  " << k << ": " << a;
    return r;
  }
  return ::testing::AssertionSuccess();
}

// The per-rule metrics of `rule` that must agree between h[0..n).
inline ::testing::AssertionResult SameRuleMetrics(RulesHarness* h, size_t n, const std::string& rule) {
  for (const char* m : {"sluice_rule_events_matched_total", "sluice_rule_late_events_total",
                        "sluice_rule_evictions_total", "sluice_rule_groups"}) {
    for (size_t k = 1; k < n; ++k) {
      if (h[0].Metric(m, rule) != h[k].Metric(m, rule)) {
        return ::testing::AssertionFailure() << m << ": " << h[0].Metric(m, rule) << " vs " << h[k].Metric(m, rule)
                                             << " (engine " << k << ")";
      }
    }
  }
  return ::testing::AssertionSuccess();
}

// The end of a differential run whose last event is at `t`: ticks at t, 30 s
// and 400 s later (windows closing, groups dropped), then the metrics.
inline ::testing::AssertionResult TickLaterAndCompare(RulesHarness* h, size_t n, int64_t t, size_t* seen,
                                                      const std::string& rule) {
  for (int64_t later : {0, 30'000, 400'000}) {
    ::testing::AssertionResult r = TickAndCompare(h, n, t + later, seen);
    if (!r) return r;
  }
  return SameRuleMetrics(h, n, rule);
}

// Saves the state of `rule`'s detector in `from` and loads it into `into`'s.
inline bool CopyRuleState(RulesHarness& from, RulesHarness& into, const std::string& rule) {
  StateWriter w;
  from.engine->detector(rule)->SaveState(w);
  StateReader r(w.buffer());
  return into.engine->detector(rule)->LoadState(r);
}

}  // namespace sluice::detectors::testing
