#include "detectors/rule_test_runner.h"

#include <gtest/gtest.h>

#include <sstream>

#include "common/test_util.h"

namespace sluice::detectors {
namespace {

constexpr char kRules[] = R"(rules:
  - name: Fatal
    type: threshold
    match: {log.level: FATAL}
    group_by: [service.name]
    window: 1m
    above: 0
    severity: critical
    annotations: {summary: "{{ $labels.service_name }}: {{ $value }}"}
)";

TEST(RuleTestRunnerTest, PassingAndFailingCasesWithReadableDiff) {
  sluice::testing::TempDir dir;
  sluice::testing::WriteFile(dir.File("rules.yml"), kRules);
  sluice::testing::WriteFile(dir.File("t.yml"), R"(rule_files: [rules.yml]
tests:
  - name: fires
    input:
      - {at: 0s, count: 3, every: 1s, event: {service.name: a, log.level: FATAL}}
    expect:
      - at: 2m
        firing: []
      - at: 50s
        firing:
          - labels: {alertname: Fatal, service_name: a}
            annotations: {summary: "a: 3"}
  - name: wrong
    input:
      - {at: 0s, event: {service.name: a, log.level: FATAL}}
    expect:
      - at: 50s
        firing: [{alertname: Fatal, service_name: b}]
)");
  std::ostringstream out;
  EXPECT_EQ(RunRuleTestFiles({dir.File("t.yml")}, out), 1);
  std::string s = out.str();
  EXPECT_NE(s.find("PASS " + dir.File("t.yml") + ": fires"), std::string::npos) << s;
  EXPECT_NE(s.find("FAIL " + dir.File("t.yml") + ": wrong"), std::string::npos) << s;
  EXPECT_NE(s.find("missing: {alertname=\"Fatal\", service_name=\"b\"}"), std::string::npos) << s;
  EXPECT_NE(s.find("unexpected: {alertname=\"Fatal\", service_name=\"a\", severity=\"critical\"}"), std::string::npos) << s;
  EXPECT_NE(s.find("1 passed, 1 failed"), std::string::npos) << s;
}

TEST(RuleTestRunnerTest, FileErrorsHaveLines) {
  sluice::testing::TempDir dir;
  sluice::testing::WriteFile(dir.File("rules.yml"), kRules);
  sluice::testing::WriteFile(dir.File("t.yml"), "rule_files: [rules.yml]\ntests:\n  - name: x\n    expect: [{at: soon}]\n");
  std::ostringstream out;
  EXPECT_EQ(RunRuleTestFiles({dir.File("t.yml")}, out), 1);
  EXPECT_NE(out.str().find(dir.File("t.yml") + ":4: tests[0].expect[0].at: invalid duration"), std::string::npos)
      << out.str();
}

}  // namespace
}  // namespace sluice::detectors
