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
inline std::vector<std::string> SortedAlerts(CaptureAlertSink& sink) {
  std::vector<std::string> out;
  for (Alert a : sink.alerts()) {
    a.rule_file.clear();
    out.push_back(StrCat(AlertToJson(a), " value=", a.value, " group=", a.group));
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

}  // namespace sluice::detectors::testing
