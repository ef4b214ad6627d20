#include "pipeline/disk_log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/strings.h"
#include "common/test_util.h"

namespace sluice {
namespace {
namespace fs = std::filesystem;

std::vector<std::string> Segments(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& de : fs::directory_iterator(dir)) {
    if (de.path().filename().string().rfind("seg-", 0) == 0) out.push_back(de.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::pair<uint64_t, std::string>> ReadAll(DiskLog* log, uint64_t from = 1) {
  std::vector<std::pair<uint64_t, std::string>> out;
  uint64_t seq = from, found;
  std::string p;
  while (true) {
    auto r = log->Read(seq, &found, &p);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok() || !*r) break;
    out.emplace_back(found, p);
    seq = found + 1;
  }
  return out;
}

TEST(DiskLogTest, AppendReadCommitAcrossSegments) {
  testing::TempDir dir;
  auto log = DiskLog::Open({dir.path(), /*segment_bytes=*/1000, /*max_bytes=*/1 << 20}, nullptr);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 50; ++i) ASSERT_EQ(*(*log)->Append(StrCat("record-", i, std::string(100, 'x'))), i + 1u);
  ASSERT_TRUE((*log)->Sync().ok());
  EXPECT_GT((*log)->segments(), 3u);
  auto all = ReadAll(log->get());
  ASSERT_EQ(all.size(), 50u);
  EXPECT_EQ(all[7].second.substr(0, 8), "record-7");
  size_t before = Segments(dir.path()).size();
  ASSERT_TRUE((*log)->Commit(40).ok());
  EXPECT_LT(Segments(dir.path()).size(), before);
  EXPECT_EQ(ReadAll(log->get()).front().first, 40u);
}

TEST(DiskLogTest, ReopenReplaysOnlyUndelivered) {
  testing::TempDir dir;
  {
    auto log = DiskLog::Open({dir.path(), 1000, 1 << 20}, nullptr);
    for (int i = 0; i < 30; ++i) ASSERT_TRUE((*log)->Append(StrCat("r", i)).ok());
    ASSERT_TRUE((*log)->Sync().ok());
    ASSERT_TRUE((*log)->Commit(21).ok());
  }
  DiskLogRecovery rec;
  auto log = DiskLog::Open({dir.path(), 1000, 1 << 20}, &rec);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(rec.records, 10u);
  auto all = ReadAll(log->get());
  ASSERT_EQ(all.size(), 10u);
  EXPECT_EQ(all.front(), (std::pair<uint64_t, std::string>{21, "r20"}));
  EXPECT_EQ(*(*log)->Append("next"), 31u);
}

TEST(DiskLogTest, TornTailIsCutAndReported) {
  testing::TempDir dir;
  {
    auto log = DiskLog::Open({dir.path(), 1 << 20, 1 << 20}, nullptr);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE((*log)->Append(StrCat("rec", i)).ok());
  }
  std::string seg = Segments(dir.path()).back();
  auto size = fs::file_size(seg);
  fs::resize_file(seg, size - 3);  // the last record is torn
  DiskLogRecovery rec;
  auto log = DiskLog::Open({dir.path(), 1 << 20, 1 << 20}, &rec);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(rec.records, 4u);
  EXPECT_GT(rec.torn_tail_bytes, 0u);
  ASSERT_FALSE(rec.messages.empty());
  EXPECT_NE(rec.messages[0].find("torn tail"), std::string::npos);
  // Appends continue cleanly after the cut.
  ASSERT_TRUE((*log)->Append("after").ok());
  auto all = ReadAll(log->get());
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all.back().second, "after");
}

TEST(DiskLogTest, FlippedBytesAreSkippedAndReported) {
  testing::TempDir dir;
  {
    auto log = DiskLog::Open({dir.path(), 200, 1 << 20}, nullptr);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE((*log)->Append(StrCat("payload-", i, std::string(40, 'p'))).ok());
  }
  auto segs = Segments(dir.path());
  ASSERT_GT(segs.size(), 3u);
  {
    // Flip a byte inside the first record of the second segment.
    std::fstream f(segs[1], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(25);
    f.put('#');
  }
  DiskLogRecovery rec;
  auto log = DiskLog::Open({dir.path(), 200, 1 << 20}, &rec);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(rec.corrupt_records, 1u);
  EXPECT_GT(rec.corrupt_bytes, 0u);
  auto all = ReadAll(log->get());
  EXPECT_EQ(all.size(), 19u);
  for (const auto& [seq, p] : all) EXPECT_EQ(p.substr(0, 8), "payload-");
}

TEST(DiskLogTest, DamagedCheckpointReplaysEverything) {
  testing::TempDir dir;
  {
    auto log = DiskLog::Open({dir.path(), 1 << 20, 1 << 20}, nullptr);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE((*log)->Append("x").ok());
    ASSERT_TRUE((*log)->Commit(4).ok());
  }
  testing::WriteFile(dir.File("checkpoint"), "garbage-garbage");
  DiskLogRecovery rec;
  auto log = DiskLog::Open({dir.path(), 1 << 20, 1 << 20}, &rec);
  ASSERT_TRUE(log.ok());
  EXPECT_TRUE(rec.checkpoint_damaged);
  EXPECT_EQ(rec.records, 5u);
}

TEST(DiskLogTest, FullQueueRefusesWithoutDamage) {
  testing::TempDir dir;
  auto log = DiskLog::Open({dir.path(), 1000, 2000}, nullptr);
  int accepted = 0;
  absl::Status last;
  for (int i = 0; i < 100; ++i) {
    auto r = (*log)->Append(std::string(100, 'z'));
    if (!r.ok()) {
      last = r.status();
      break;
    }
    ++accepted;
  }
  EXPECT_EQ(last.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_GT(accepted, 10);
  EXPECT_LE((*log)->bytes(), 2000u);
  ASSERT_TRUE((*log)->Commit(accepted + 1).ok());
  EXPECT_TRUE((*log)->Append("room again").ok());
}

}  // namespace
}  // namespace sluice
