#include "common/timeutil.h"

#include <cstdint>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(TimeUtilTest, ParsesFilebeatTimestamps) {
  int64_t ms;
  ASSERT_TRUE(ParseRfc3339Ms("2026-11-21T05:30:59.285Z", &ms));
  EXPECT_EQ(ms, 1795239059285);
  EXPECT_EQ(FormatRfc3339Ms(ms), "2026-11-21T05:30:59.285Z");
}

TEST(TimeUtilTest, ParsesOffsetsAndFractions) {
  int64_t us;
  ASSERT_TRUE(ParseRfc3339Us("2026-11-21T05:30:59.285610+00:00", &us));
  EXPECT_EQ(us, 1795239059285610);
  ASSERT_TRUE(ParseRfc3339Us("2026-11-21T06:30:59.285610+01:00", &us));
  EXPECT_EQ(us, 1795239059285610);
  ASSERT_TRUE(ParseRfc3339Us("2026-11-21T05:30:59Z", &us));
  EXPECT_EQ(us, 1795239059000000);
  ASSERT_TRUE(ParseRfc3339Us("2026-11-21T00:00:00-05:30", &us));
  int64_t ref;
  ASSERT_TRUE(ParseRfc3339Us("2026-11-21T05:30:00Z", &ref));
  EXPECT_EQ(us, ref);
}

TEST(TimeUtilTest, RejectsGarbage) {
  int64_t ms;
  EXPECT_FALSE(ParseRfc3339Ms("", &ms));
  EXPECT_FALSE(ParseRfc3339Ms("2026-13-01T00:00:00Z", &ms));
  EXPECT_FALSE(ParseRfc3339Ms("2026-11-21T05:30:59.Z", &ms));
  EXPECT_FALSE(ParseRfc3339Ms("2026-11-21T05:30:59Zjunk", &ms));
  EXPECT_FALSE(ParseRfc3339Ms("Nov 21 05:30:59", &ms));
}

TEST(TimeUtilTest, CivilRoundTrip) {
  for (int64_t d = -1000; d < 100000; d += 37) {
    int y;
    unsigned m, dd;
    CivilFromDays(d, &y, &m, &dd);
    EXPECT_EQ(DaysFromCivil(y, m, dd), d);
  }
  EXPECT_EQ(FormatRfc3339Ms(0), "1970-01-01T00:00:00.000Z");
}


// ParseRfc3339Us remembers the last minute per thread: on runs of timestamps
// sharing (or nearly sharing) their first 16 bytes, valid or not, it must agree
// with the parse without that memory.
TEST(TimeUtilTest, ParseRfc3339UsMinuteMemoryMatchesUncached) {
  const std::string bases[] = {"2026-11-21T05:30:59.285610Z", "2026-11-21T05:30:00Z",      "2026-11-21 05:30:07+01:00",
                               "2026-11-21t05:31:07.1-0530",  "1999-12-31T23:59:60,5z",    "2026-02-31T00:00:00Z",
                               "0001-01-01T00:00:00.000001Z", "9999-12-31T23:59:59.9999999+14:00"};
  const char alphabet[] = "0123456789-:T t.,Z+zx";
  uint64_t rng = 0x9e3779b97f4a7c15ull;
  auto next = [&rng] {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  };
  size_t hits_ok = 0, agreed = 0;
  for (int round = 0; round < 200000; ++round) {
    std::string s = bases[next() % std::size(bases)];
    const uint64_t what = next() % 8;
    if (what < 4) {  // change the seconds and after (the remembered minute usually still applies)
      const size_t at = 16 + next() % (s.size() - 16);
      s[at] = alphabet[next() % (sizeof alphabet - 1)];
    } else if (what < 6) {  // change the minute part
      s[next() % 16] = alphabet[next() % (sizeof alphabet - 1)];
    } else if (what == 6) {  // shorten or lengthen
      if (next() % 2) s.resize(next() % s.size());
      else s.push_back(alphabet[next() % (sizeof alphabet - 1)]);
    }
    int64_t got = -1, want = -1;
    const bool ok = ParseRfc3339Us(s, &got);
    const bool want_ok = ParseRfc3339UsUncached(s, &want);
    ASSERT_EQ(ok, want_ok) << s;
    if (ok) {
      ASSERT_EQ(got, want) << s;
      ++hits_ok;
    }
    ++agreed;
  }
  EXPECT_EQ(agreed, 200000u);
  EXPECT_GT(hits_ok, 50000u);  // the valid cases were exercised
  int64_t us;
  ASSERT_TRUE(ParseRfc3339UsUncached("2026-11-21T05:30:59.285610+00:00", &us));
  EXPECT_EQ(us, 1795239059285610);
}
}  // namespace
}  // namespace sluice
