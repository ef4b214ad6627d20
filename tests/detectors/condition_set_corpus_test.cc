// Replays the checked-in fuzz corpus (tests/fuzz/corpus/condition_set)
// through the rule conditions with the fuzzer's property (every rule's
// conditions evaluated together give each event Condition::Matches' answer,
// on every SIMD path), so the corpus is exercised by every build, with or
// without clang/libFuzzer.

#include <gtest/gtest.h>

#include <filesystem>

#include "common/test_util.h"
#include "condition_set_check.h"

namespace sluice::detectors {
namespace {

TEST(ConditionSetCorpusReplayTest, EveryCorpusInputGetsTheReferenceAnswers) {
  const std::string dir = sluice::testing::SourceDir() + "/tests/fuzz/corpus/condition_set";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  int files = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    std::string data = sluice::testing::ReadFile(f.path());
    if (data.empty()) continue;
    EXPECT_EQ(fuzz::CheckOneInput(reinterpret_cast<const uint8_t*>(data.data()), data.size()), "") << f.path();
    // Also batches of other sizes than the input's first byte picks: one
    // event, a chunk's first word, a whole chunk, into the second chunk.
    for (int first : {0, 54, 55, 218, 219, 255}) {
      std::string variant = data;
      variant[0] = static_cast<char>(first);
      EXPECT_EQ(fuzz::CheckOneInput(reinterpret_cast<const uint8_t*>(variant.data()), variant.size()), "")
          << f.path() << " first byte " << first;
    }
    ++files;
  }
  EXPECT_GE(files, 4);
}

}  // namespace
}  // namespace sluice::detectors
