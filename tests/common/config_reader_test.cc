#include "common/config_reader.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(ConfigReaderTest, ReadsTypedValuesAndReportsLines) {
  ConfigErrors errors;
  YAML::Node n = LoadYamlString("a: hello\nb: 12\nc: 30s\nd: 64KiB\ne: [x, y]\nf: maybe\nextra: 1\n", "t.yml", &errors);
  ConfigMap m(n, "t.yml", &errors);
  EXPECT_EQ(m.String("a"), "hello");
  EXPECT_EQ(m.Int("b", 0, 0, 100), 12);
  EXPECT_EQ(m.DurationMs("c", 0), 30'000);
  EXPECT_EQ(m.Bytes("d", 0), 65536u);
  EXPECT_EQ(m.StringList("e"), (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(m.Bool("f", true));  // invalid: default kept, error reported
  EXPECT_EQ(m.String("missing", "def"), "def");
  m.Finish();
  ASSERT_EQ(errors.list().size(), 2u) << errors.ToString();
  EXPECT_EQ(errors.list()[0], "t.yml:6: f: expected true or false");
  EXPECT_NE(errors.list()[1].find("t.yml:7: unknown key \"extra\""), std::string::npos);
}

TEST(ConfigReaderTest, NestedPathsAndRanges) {
  ConfigErrors errors;
  YAML::Node n = LoadYamlString("outer:\n  inner:\n    n: 500\n  bad: x\n", "t.yml", &errors);
  ConfigMap m(n, "t.yml", &errors);
  auto outer = m.Map("outer");
  ASSERT_TRUE(outer);
  auto inner = outer->Map("inner");
  EXPECT_EQ(inner->Int("n", 1, 0, 100), 1);
  inner->Finish();
  outer->Finish();
  m.Finish();
  ASSERT_EQ(errors.list().size(), 2u) << errors.ToString();
  EXPECT_EQ(errors.list()[0], "t.yml:3: outer.inner.n: 500 is out of range [0, 100]");
  EXPECT_NE(errors.list()[1].find("t.yml:4: unknown key \"outer.bad\""), std::string::npos);
}

TEST(ConfigReaderTest, SyntaxErrorHasLine) {
  ConfigErrors errors;
  LoadYamlString("a: 1\nb: [unclosed\n", "t.yml", &errors);
  ASSERT_EQ(errors.list().size(), 1u);
  EXPECT_EQ(errors.list()[0].rfind("t.yml:", 0), 0u);
}

}  // namespace
}  // namespace sluice
