#include "common/units.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(UnitsTest, Durations) {
  EXPECT_EQ(*ParseDurationMs("250ms"), 250);
  EXPECT_EQ(*ParseDurationMs("30s"), 30'000);
  EXPECT_EQ(*ParseDurationMs("5m"), 300'000);
  EXPECT_EQ(*ParseDurationMs("1h"), 3'600'000);
  EXPECT_EQ(*ParseDurationMs("1.5s"), 1500);
  EXPECT_EQ(*ParseDurationMs("42"), 42);
  EXPECT_FALSE(ParseDurationMs("abc").ok());
  EXPECT_FALSE(ParseDurationMs("5 parsecs").ok());
}

TEST(UnitsTest, Bytes) {
  EXPECT_EQ(*ParseBytes("512"), 512u);
  EXPECT_EQ(*ParseBytes("64KiB"), 64u * 1024);
  EXPECT_EQ(*ParseBytes("256MiB"), 256ull << 20);
  EXPECT_EQ(*ParseBytes("1GiB"), 1ull << 30);
  EXPECT_EQ(*ParseBytes("10MB"), 10'000'000u);
  EXPECT_EQ(*ParseBytes("100mb"), 100'000'000u);
  EXPECT_FALSE(ParseBytes("lots").ok());
  EXPECT_FALSE(ParseBytes("5 furlongs").ok());
}

}  // namespace
}  // namespace sluice
