#include "pipeline/dlq_tool.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "common/es_emulator.h"
#include "common/strings.h"
#include "common/test_util.h"
#include "pipeline/dead_letter.h"

namespace sluice {
namespace {

TEST(DlqToolTest, ListShowAndReplayThroughTheOutputs) {
  testing::TempDir dir;
  testing::EsEmulator es;
  ASSERT_TRUE(es.Start().ok());
  testing::WriteFile(dir.File("sluice.yml"), StrCat("data_dir: ", dir.File("data"), R"(
inputs:
  - {type: beats, listen: "127.0.0.1:0"}
outputs:
  - {type: elasticsearch, hosts: [")", es.url(), R"("], index: replayed, flush_interval: 20ms}
)"));
  {
    MetricsRegistry m;
    DeadLetterQueue q({dir.File("data/dlq")}, &m);
    ASSERT_TRUE(q.Open().ok());
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(q.Write("elasticsearch", "elasticsearch rejected the event: status 400 mapper_parsing_exception: x",
                          StrCat(R"({"message":"event )", i, R"("})"), "10.0.0.1:5000")
                      .ok());
    }
    ASSERT_TRUE(q.Write("beats", "invalid JSON: TAPE_ERROR", R"({"message": broken)").ok());
  }
  const std::string cfg = dir.File("sluice.yml");
  std::ostringstream out, err;
  ASSERT_EQ(RunDlqCommand({"list", "--config", cfg}, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("4 events in 1 files"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("3 × elasticsearch rejected the event: status 400"), std::string::npos) << out.str();

  out.str("");
  ASSERT_EQ(RunDlqCommand({"show", "--config", cfg, "--limit", "2"}, out, err), 0);
  EXPECT_NE(out.str().find("  event:  {\"message\":\"event 0\"}"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("from 10.0.0.1:5000"), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find("event 2"), std::string::npos) << "limit ignored";

  // A file that a running sluice holds is left alone.
  std::string held = dir.File("data/dlq/dlq-9999999999999-0.ndjson");
  testing::WriteFile(held, R"({"@timestamp":"x","component":"c","reason":"r","original":"{}"})" "\n");
  int fd = open(held.c_str(), O_RDONLY);
  ASSERT_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);

  out.str("");
  EXPECT_EQ(RunDlqCommand({"replay", "--config", cfg}, out, err), 0) << out.str() << err.str();
  EXPECT_NE(out.str().find("dlq-9999999999999-0.ndjson: in use by a running sluice, skipped"), std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("4 events replayed, file removed"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("1 of them were dead-lettered again"), std::string::npos) << out.str();
  EXPECT_EQ(es.Count("replayed"), 3u);
  close(fd);
  // What is left: the held file and a new file with the still-invalid event.
  out.str("");
  ASSERT_EQ(RunDlqCommand({"list", "--config", cfg}, out, err), 0);
  EXPECT_NE(out.str().find("2 events in 2 files"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("invalid JSON"), std::string::npos) << out.str();
}

TEST(DlqToolTest, UsageErrors) {
  std::ostringstream out, err;
  EXPECT_EQ(RunDlqCommand({}, out, err), 2);
  EXPECT_EQ(RunDlqCommand({"list"}, out, err), 2);
  EXPECT_NE(err.str().find("--config FILE is required"), std::string::npos);
}

}  // namespace
}  // namespace sluice
