#include <gtest/gtest.h>

#include <filesystem>

#include "detectors/rules_harness.h"

namespace sluice::detectors {
namespace {

using testing::RulesHarness;

TEST(RuleFileTest, ValidRulesLoadAndRegisterFields) {
  RulesHarness h;
  auto s = h.Load(R"(rules:
  - name: FatalErrors
    type: threshold
    match: {log.level: FATAL}
    group_by: [service.name]
    window: 5m
    above: 0
    for: 1m
    severity: critical
    labels: {team: mes}
    annotations:
      summary: "{{ $labels.service_name }} logged {{ $value }} FATAL events"
  - name: Spikes
    type: frequency
    match: {log.level: [WARN, ERROR]}
    window: 5m
    baseline: 1h
    spike_factor: 3
    drop_factor: 0.2
  - name: BigUploads
    type: payload_size
    match: {event.action: upload}
    field: file.size
    factor: 6
    min_samples: 20
  - name: RepeatedCalculations
    type: duplicate
    match: {event.action: calculate}
    fingerprint: [model.sha256, calc.params]
    window: 10m
    max_repeats: 1
)");
  ASSERT_TRUE(s.ok()) << h.errors.ToString();
  EXPECT_EQ(h.engine->rule_count(), 4u);
  EXPECT_EQ(h.fields.paths(), (std::vector<std::string>{"log.level", "service.name", "event.action", "file.size",
                                                        "model.sha256", "calc.params"}));
}

TEST(RuleFileTest, EveryMistakeIsReportedWithFileAndLine) {
  RulesHarness h;
  auto s = h.Load(R"(rules:
  - name: A
    type: threshold
    match: {log.level: FATAL}
    window: 5m
    above: 1
    bogus: 1
  - name: B
    type: nosuch
    match: {url.path: {regex: "("}}
  - name: C
    type: threshold
    match: {x: 1}
    above: 5
  - name: A
    type: frequency
    match: {x: 1}
    window: soon
    baseline: 1h
  - name: D
    type: threshold
    window: 1m
    above: 1
    below: 2
    annotations: {summary: "{{ $labels.x }} {{ .Value }}"}
  - name: E
    type: duplicate
    match: {x: 1}
    window: 1m
    labels: {bad-name: x}
)");
  ASSERT_FALSE(s.ok());
  std::string f = h.dir.File("rules.yml");
  std::vector<std::string> want = {
      f + ":7: unknown key \"rules[0].bogus\" (expected one of: above, aggregate, annotations, below, field, for, "
          "group_by, labels, match, name, severity, type, window)",
      f + ":9: rules[1].type: unknown rule type \"nosuch\" (known: duplicate, flow, frequency, payload_size, threshold)",
      f + ":10: match: url.path: bad regex \"(\": missing ): (",
      f + ":11: rules[2].window: required parameter is missing (a duration such as 5m)",
      f + ":15: rules[3].name: duplicate rule name \"A\" (first defined at " + f + ":2)",
      f + ":18: rules[3].window: invalid duration \"soon\", expected e.g. 500ms, 30s, 5m, 1h",
      f + ":19: rules[3].baseline: at least one of `spike_factor` and `drop_factor` is required",
      f + ":20: rules[4].match: required key is missing (a map of field: condition)",
      f + ":25: annotations.summary: unknown template expression \"{{ .Value }}\" (expected $labels.NAME, $value, "
          "$threshold or $baseline)",
      f + ":24: rules[4].below: exactly one of `above` and `below` is required",
      f + ":30: labels.bad-name: invalid label name (letters, digits and _ only)",
      f + ":26: rules[5].fingerprint: required parameter is missing (a list of fields)",
  };
  EXPECT_EQ(h.errors.list(), want) << h.errors.ToString();
}

TEST(RuleFileTest, FileLevelMistakes) {
  RulesHarness h;
  EXPECT_FALSE(h.Load("groups: []\n").ok());
  std::string f = h.dir.File("rules.yml");
  EXPECT_EQ(h.errors.ToString(), f + ":1: rules: required key is missing (a list of rules)\n" + f +
                                     ":1: unknown key \"groups\" (expected one of: rules)");
  RulesHarness h2;
  EXPECT_FALSE(h2.Load("rules:\n  - name: [x\n").ok());
  EXPECT_EQ(h2.errors.list().size(), 1u);
  EXPECT_EQ(h2.errors.list()[0].rfind(h2.dir.File("rules.yml") + ":", 0), 0u) << h2.errors.ToString();
}

TEST(RuleFileTest, GlobsRelativeToBaseDir) {
  RulesHarness h;
  std::filesystem::create_directories(h.dir.File("rules"));
  sluice::testing::WriteFile(h.dir.File("rules/a.yml"),
                             "rules:\n  - {name: A, type: threshold, match: {x: 1}, window: 1m, above: 1}\n");
  sluice::testing::WriteFile(h.dir.File("rules/b.yml"),
                             "rules:\n  - {name: B, type: threshold, match: {x: 1}, window: 1m, below: 1}\n");
  sluice::testing::WriteFile(h.dir.File("rules/c.txt"), "not yaml: [");
  RuleEngine engine(RuleEngineOptions{.base_dir = h.dir.path()});
  ASSERT_TRUE(engine.Load({"rules/*.yml"}, h.ctx, &h.errors).ok()) << h.errors.ToString();
  EXPECT_EQ(engine.rule_count(), 2u);
  EXPECT_EQ(engine.files(), (std::vector<std::string>{h.dir.File("rules/a.yml"), h.dir.File("rules/b.yml")}));
  ConfigErrors errors;
  RuleEngine missing(RuleEngineOptions{.base_dir = h.dir.path()});
  EXPECT_FALSE(missing.Load({"rules/none.yml"}, h.ctx, &errors).ok());
  EXPECT_EQ(errors.ToString(), h.dir.File("rules/none.yml") + ":1: cannot open rule file");
}

}  // namespace
}  // namespace sluice::detectors
