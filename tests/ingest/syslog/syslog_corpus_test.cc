// Replays the fuzz corpus (tests/fuzz/corpus/syslog) through the framer, the
// parser and the ECS writer, so the corpus is exercised even without clang.

#include <gtest/gtest.h>

#include <filesystem>

#include "common/test_util.h"
#include "ecs_test_util.h"
#include "ingest/syslog/ecs_writer.h"
#include "ingest/syslog/framing.h"
#include "ingest/syslog/syslog_parser.h"

namespace sluice::syslog {
namespace {

TEST(SyslogCorpus, EveryFileParsesToValidJson) {
  std::string dir = sluice::testing::SourceDir() + "/tests/fuzz/corpus/syslog";
  size_t files = 0, events = 0;
  Rfc3164Clock clock(absl::UTCTimeZone());
  clock.SetNow(1'795'000'000'000'000);
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string data = sluice::testing::ReadFile(entry.path().string());
    ++files;
    FrameSplitter splitter(4096);
    auto on_frame = [&](std::string_view frame, bool truncated) {
      SyslogMessage m;
      ParseSyslog(frame, clock, &m);
      EcsFrame f{StripTrailer(frame), "127.0.0.1", 0, truncated};
      std::string json;
      AppendEcsEvent(m, f, true, &json);
      EXPECT_TRUE(testing::ValidJson(json)) << entry.path() << ": " << json;
      ++events;
      return true;
    };
    size_t used = splitter.Split(data, on_frame);
    splitter.Finish(std::string_view(data).substr(used), on_frame);
  }
  EXPECT_GE(files, 10u);
  EXPECT_GE(events, files);
}

}  // namespace
}  // namespace sluice::syslog
