#include "common/timeutil.h"

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

}  // namespace
}  // namespace sluice
