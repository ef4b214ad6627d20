// Replays the checked-in fuzz corpus (tests/fuzz/corpus/beats_frames) through
// the frame decoder with the fuzzer's property, so the corpus is exercised by
// every build, with or without clang/libFuzzer.

#include <gtest/gtest.h>

#include <filesystem>

#include "beats_frames_check.h"
#include "common/test_util.h"

namespace sluice::beats {
namespace {

TEST(BeatsCorpusReplayTest, EveryCorpusInputDecodesTheSameInAnyChunking) {
  const std::string dir = sluice::testing::SourceDir() + "/tests/fuzz/corpus/beats_frames";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  int files = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    std::string data = sluice::testing::ReadFile(f.path());
    const auto* p = reinterpret_cast<const uint8_t*>(data.data());
    EXPECT_TRUE(fuzz::CheckOneInput(p, data.size())) << f.path();
    // Also every other chunk size, beyond the one the input's first byte picks.
    for (int chunk = 1; chunk <= 64 && !data.empty(); ++chunk) {
      std::string variant = data;
      variant[0] = static_cast<char>(chunk - 1);
      EXPECT_TRUE(fuzz::CheckOneInput(reinterpret_cast<const uint8_t*>(variant.data()), variant.size()))
          << f.path() << " chunk " << chunk;
    }
    ++files;
  }
  EXPECT_GE(files, 10);
}

}  // namespace
}  // namespace sluice::beats
