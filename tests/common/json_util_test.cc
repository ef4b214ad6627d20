#include "common/json_util.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(JsonUtilTest, EscapesControlAndQuotes) {
  std::string out;
  AppendJsonString("a\"b\\c\nd\te\x01", &out);
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
}

TEST(JsonUtilTest, KeepsValidUtf8AndReplacesInvalid) {
  std::string out;
  AppendJsonEscaped("h\xC3\xA9llo \xE2\x82\xAC", &out);
  EXPECT_EQ(out, "h\xC3\xA9llo \xE2\x82\xAC");
  out.clear();
  AppendJsonEscaped("bad\xFF\xC3", &out);
  EXPECT_EQ(out, "bad\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(JsonUtilTest, Unescapes) {
  std::string out;
  ASSERT_TRUE(UnescapeJsonString("a\\\"b\\\\c\\nd\\u00e9\\ud83d\\ude00", &out));
  EXPECT_EQ(out, "a\"b\\c\nd\xC3\xA9\xF0\x9F\x98\x80");
  out.clear();
  EXPECT_FALSE(UnescapeJsonString("bad\\x", &out));
}

}  // namespace
}  // namespace sluice
