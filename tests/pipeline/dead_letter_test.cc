#include "pipeline/dead_letter.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/test_util.h"

namespace sluice {
namespace {

TEST(DeadLetterTest, RotatesAndCapsTotalSize) {
  testing::TempDir dir;
  MetricsRegistry m;
  DeadLetterQueue q({dir.path() + "/dlq", /*max_file_bytes=*/4096, /*max_total_bytes=*/16384}, &m);
  ASSERT_TRUE(q.Open().ok());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(q.Write("c", "reason", std::string(500, 'a')).ok());
  uint64_t total = 0;
  int files = 0;
  for (const auto& de : std::filesystem::directory_iterator(dir.path() + "/dlq")) {
    total += de.file_size();
    ++files;
    for (const auto& line : testing::ReadLines(de.path().string())) {
      EXPECT_EQ(line.front(), '{');
      EXPECT_EQ(line.back(), '}');
    }
  }
  EXPECT_GT(files, 1);
  EXPECT_LE(total, 16384u + 4096u);
  EXPECT_GT(m.Sum("sluice_component_discarded_events_total", {{"reason", "dlq_full"}}), 0);
  EXPECT_EQ(q.written(), 100u);
}

}  // namespace
}  // namespace sluice
