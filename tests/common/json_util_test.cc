#include "common/json_util.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

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

// The plain prefix, byte by byte: what JsonPlainPrefix's word and vector
// paths must agree with.
size_t PlainPrefixSlow(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
    ++i;
  }
  return i;
}

TEST(JsonUtilTest, PlainPrefixMatchesByteByByteScan) {
  // Every length up to 100 (the 8-, 16- and 32-byte paths and their tails),
  // each kind of byte that ends the prefix at every position, at several
  // alignments.
  const std::string bad = std::string("\"\\\n\x01\x1f\x7f\x80\xC3\xFF") + std::string(1, '\0');
  std::string buf(200, 'a');
  for (size_t align = 0; align < 4; ++align) {
    for (size_t n = 0; n <= 100; ++n) {
      std::string_view clean(buf.data() + align, n);
      ASSERT_EQ(JsonPlainPrefix(clean), n);
      for (size_t pos = 0; pos < n; ++pos) {
        for (char b : bad) {
          std::string s(n, 'x');
          s[pos] = b;
          if (pos + 1 < n) s[n - 1] = '"';  // a later bad byte must not count
          std::string padded = std::string(align, ' ') + s;
          std::string_view v(padded.data() + align, n);
          ASSERT_EQ(JsonPlainPrefix(v), PlainPrefixSlow(v)) << "n=" << n << " pos=" << pos << " byte=" << int(b);
        }
      }
    }
  }
  // Random bytes, mostly printable.
  std::mt19937 rng(7);
  for (int k = 0; k < 20000; ++k) {
    std::string s(rng() % 120, 'a');
    for (char& c : s) c = rng() % 50 == 0 ? static_cast<char>(rng() % 256) : static_cast<char>(0x20 + rng() % 95);
    ASSERT_EQ(JsonPlainPrefix(s), PlainPrefixSlow(s)) << s;
  }
}

}  // namespace
}  // namespace sluice
