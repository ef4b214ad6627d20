#include "pipeline/app.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/strings.h"
#include "common/test_util.h"

namespace sluice {
namespace {

std::string Errors(const std::string& yaml) {
  auto app = App::Load(yaml, "cfg.yml", true);
  return app.ok() ? "" : std::string(MessageOf(app.status().message()));
}

// The VmFlags line of the mapping of /proc/self/smaps that holds `addr`.
std::string VmFlagsOf(uintptr_t addr) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool in = false;
  while (std::getline(smaps, line)) {
    uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> lo >> dash >> hi && dash == '-') {
      in = addr >= lo && addr < hi;
      continue;
    }
    if (in && line.rfind("VmFlags:", 0) == 0) return line;
  }
  return "";
}

TEST(AllocatorTest, AdvisesPartOfTheHeapForHugePagesAndMallocStillWorks) {
  HugePageHeap heap = ConfigureAllocator(8u << 20);
  RecordProperty("huge_page_heap_bytes", std::to_string(heap.end - heap.begin));
  if (!heap.empty()) {
    // 2 MiB aligned, inside what was asked for, and the kernel took the advice ("hg").
    EXPECT_EQ(heap.begin % (2u << 20), 0u);
    EXPECT_EQ(heap.end % (2u << 20), 0u);
    EXPECT_LE(heap.end - heap.begin, 8u << 20);
    EXPECT_NE(VmFlagsOf(heap.begin).find(" hg"), std::string::npos) << VmFlagsOf(heap.begin);
  }
  // A window-sized arena, written and freed, as the Beats input does.
  for (int i = 0; i < 8; ++i) {
    auto* p = static_cast<char*>(std::malloc(1u << 20));
    ASSERT_NE(p, nullptr);
    for (size_t k = 0; k < (1u << 20); k += 4096) p[k] = static_cast<char>(k);
    std::free(p);
  }
  // Sizes it does not take leave the heap alone (the malloc options are still set).
  EXPECT_TRUE(ConfigureAllocator(1u << 20).empty());
  EXPECT_TRUE(ConfigureAllocator(64u << 20).empty());
}

TEST(AllocatorTest, AdvisesAThreadsOwnHeapForHugePages) {
  ConfigureAllocator();  // as main does: window-sized blocks come from the heap, not mmap
  HugePageHeap heap;
  bool inside = false;
  std::thread t([&] {
    heap = AdviseThreadHeapForHugePages();
    auto* p = static_cast<char*>(std::malloc(1u << 20));
    ASSERT_NE(p, nullptr);
    for (size_t k = 0; k < (1u << 20); k += 4096) p[k] = static_cast<char>(k);
    inside = reinterpret_cast<uintptr_t>(p) >= heap.begin && reinterpret_cast<uintptr_t>(p) < heap.end;
    std::free(p);
  });
  t.join();
  RecordProperty("thread_heap_bytes", std::to_string(heap.end - heap.begin));
  if (!heap.empty()) {
    EXPECT_EQ(heap.begin % (64u << 20), 0u);
    EXPECT_EQ(heap.end - heap.begin, 64u << 20);
    EXPECT_NE(VmFlagsOf(heap.begin).find(" hg"), std::string::npos) << VmFlagsOf(heap.begin);
    EXPECT_TRUE(inside) << "a window-sized block of that thread comes from that heap";
  }
  // The main thread allocates from glibc's [heap], not a thread heap: left alone.
  EXPECT_TRUE(AdviseThreadHeapForHugePages().empty());
}

TEST(AppConfigTest, EmbeddedDefaultIsValid) {
  auto app = App::Load(kEmbeddedDefaultConfig, "<embedded default>", true);
  ASSERT_TRUE(app.ok()) << app.status();
}

TEST(AppConfigTest, ErrorsNameFileAndLine) {
  EXPECT_EQ(Errors("outputs:\n  - type: file\n    path: /tmp/x\nbogus: 1\n").rfind("cfg.yml:4: unknown key \"bogus\"", 0),
            0u);
  std::string e = Errors("outputs:\n  - type: nosuch\n");
  EXPECT_NE(e.find("cfg.yml:2: outputs[0].type: unknown output type \"nosuch\""), std::string::npos) << e;
  e = Errors("outputs:\n  - type: file\n");
  EXPECT_NE(e.find("cfg.yml:2: outputs[0].path: required key is missing"), std::string::npos) << e;
  e = Errors("pipeline:\n  workers: -3\noutputs:\n  - {type: file, path: /tmp/x}\n");
  EXPECT_NE(e.find("cfg.yml:2: pipeline.workers: -3 is out of range"), std::string::npos) << e;
  e = Errors("pipeline:\n  queue: {type: memory, max_bytes: lots}\noutputs:\n  - {type: file, path: /tmp/x}\n");
  EXPECT_NE(e.find("cfg.yml:2: pipeline.queue.max_bytes: invalid size"), std::string::npos) << e;
  e = Errors("outputs: [\n");
  EXPECT_EQ(e.rfind("cfg.yml:", 0), 0u) << e;
  EXPECT_NE(Errors("inputs: []\n").find("at least one output"), std::string::npos);
}

TEST(AppConfigTest, ReportsAllErrorsAtOnce) {
  std::string e = Errors("log_level: loud\nshutdown_timeout: soon\noutputs:\n  - {type: file, path: /tmp/x, extra: 1}\n");
  EXPECT_NE(e.find("cfg.yml:1: log_level"), std::string::npos) << e;
  EXPECT_NE(e.find("cfg.yml:2: shutdown_timeout"), std::string::npos) << e;
  EXPECT_NE(e.find("cfg.yml:4: unknown key \"outputs[0].extra\""), std::string::npos) << e;
}

TEST(AppTest, ServesMetricsAndHealth) {
  testing::TempDir dir;
  std::string yaml = StrCat("data_dir: ", dir.path(), "\nhttp: {listen: 127.0.0.1:0}\noutputs:\n  - {type: file, path: ",
                            dir.File("out.ndjson"), "}\n");
  auto app = App::Load(yaml, "cfg.yml", false);
  ASSERT_TRUE(app.ok()) << app.status();
  ASSERT_TRUE((*app)->Start().ok());
  std::string body;
  EXPECT_EQ(testing::HttpRequest((*app)->admin_address(), "GET", "/healthz", &body), 200);
  EXPECT_EQ(body, "ok\n");
  EXPECT_EQ(testing::HttpRequest((*app)->admin_address(), "GET", "/metrics", &body), 200);
  EXPECT_NE(body.find("# TYPE sluice_component_received_events_total counter"), std::string::npos) << body;
  EXPECT_NE(body.find("sluice_queue_bytes{queue=\"pipeline\"} 0"), std::string::npos) << body;
  EXPECT_EQ(testing::HttpRequest((*app)->admin_address(), "GET", "/nope", &body), 404);
  (*app)->Shutdown();
}

}  // namespace
}  // namespace sluice
