#include "pipeline/dlq_tool.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "common/strings.h"
#include "common/timeutil.h"
#include "pipeline/app.h"

namespace sluice {
namespace fs = std::filesystem;

namespace {

struct Record {
  std::string time, component, reason, peer, original;
};

bool ParseRecord(simdjson::dom::parser& parser, const std::string& line, Record* r) {
  simdjson::dom::element e;
  if (parser.parse(line).get(e) != simdjson::SUCCESS) return false;
  auto str = [&](const char* k) {
    std::string_view v;
    return e[k].get(v) == simdjson::SUCCESS ? std::string(v) : std::string();
  };
  r->time = str("@timestamp");
  r->component = str("component");
  r->reason = str("reason");
  r->peer = str("peer");
  std::string_view orig;
  if (e["original"].get(orig) != simdjson::SUCCESS) return false;
  r->original = std::string(orig);
  return true;
}

std::vector<std::string> DlqFiles(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& de : fs::directory_iterator(dir, ec)) {
    if (de.is_regular_file() && de.path().extension() == ".ndjson") files.push_back(de.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string FlagValue(const std::vector<std::string>& args, const std::string& flag, const std::string& def = "") {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == flag) return args[i + 1];
  }
  return def;
}

int List(const std::string& dir, std::ostream& out) {
  simdjson::dom::parser parser;
  auto files = DlqFiles(dir);
  if (files.empty()) {
    out << "no dead-letter files in " << dir << "\n";
    return 0;
  }
  uint64_t total = 0;
  for (const auto& f : files) {
    std::ifstream in(f);
    std::string line, first, last;
    uint64_t n = 0;
    std::map<std::string, int> reasons;
    Record r;
    while (std::getline(in, line)) {
      if (line.empty() || !ParseRecord(parser, line, &r)) continue;
      ++n;
      if (first.empty()) first = r.time;
      last = r.time;
      // Group reasons by their first words (the tail often names one event).
      reasons[r.reason.substr(0, std::min<size_t>(r.reason.size(), 60))]++;
    }
    total += n;
    out << fs::path(f).filename().string() << "  " << n << " events  " << fs::file_size(f) << " bytes  " << first
        << " .. " << last << "\n";
    std::vector<std::pair<int, std::string>> top;
    for (const auto& [k, v] : reasons) top.emplace_back(v, k);
    std::sort(top.rbegin(), top.rend());
    for (size_t i = 0; i < top.size() && i < 3; ++i) out << "    " << top[i].first << " × " << top[i].second << "\n";
  }
  out << total << " events in " << files.size() << " files (" << dir << ")\n";
  return 0;
}

int Show(const std::string& dir, const std::string& only, size_t limit, std::ostream& out) {
  simdjson::dom::parser parser;
  size_t shown = 0;
  for (const auto& f : DlqFiles(dir)) {
    if (!only.empty() && fs::path(f).filename().string() != only) continue;
    std::ifstream in(f);
    std::string line;
    Record r;
    while (std::getline(in, line) && shown < limit) {
      if (line.empty() || !ParseRecord(parser, line, &r)) continue;
      ++shown;
      out << r.time << "  " << r.component << (r.peer.empty() ? "" : "  from " + r.peer) << "\n  reason: " << r.reason
          << "\n  event:  " << r.original << "\n";
    }
  }
  if (shown == 0) out << "no dead-letter records" << (only.empty() ? "" : " in " + only) << "\n";
  return 0;
}

int Replay(const std::string& config, std::ostream& out, std::ostream& err) {
  auto loaded = App::LoadFile(config, false);
  if (!loaded.ok()) {
    err << MessageOf(loaded.status().message()) << "\n";
    return 1;
  }
  std::unique_ptr<App> app = std::move(*loaded);
  const std::string dir = app->options().dead_letter.dir;
  // The files to replay are those that exist now and no running sluice writes.
  std::vector<std::pair<std::string, int>> files;
  for (const auto& f : DlqFiles(dir)) {
    int fd = open(f.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      out << fs::path(f).filename().string() << ": in use by a running sluice, skipped\n";
      close(fd);
      continue;
    }
    files.emplace_back(f, fd);
  }
  if (files.empty()) {
    out << "nothing to replay in " << dir << "\n";
    return 0;
  }
  app->KeepOutputsOnly();
  if (auto s = app->Start(); !s.ok()) {
    err << "sluice dlq replay: " << MessageOf(s.message()) << "\n";
    return 1;
  }
  simdjson::dom::parser parser;
  std::mutex mu;
  std::condition_variable cv;
  bool room = false;  // the pipeline queue woke us: try again
  int exit_code = 0;
  uint64_t replayed_total = 0;
  for (auto& [path, fd] : files) {
    std::ifstream in(path);
    std::string line;
    Record r;
    std::atomic<uint64_t> pending{0};
    uint64_t events = 0, unreadable = 0;
    BatchPtr batch;
    auto push = [&] {
      if (!batch || batch->size() == 0) return;
      pending += 1;
      batch->SetOnSafe([&] {
        std::lock_guard<std::mutex> l(mu);
        pending -= 1;
        cv.notify_all();
      });
      while (true) {
        if (app->receiver()->TryPush(batch, [&] {
              std::lock_guard<std::mutex> l(mu);
              room = true;
              cv.notify_all();
            })) {
          break;
        }
        std::unique_lock<std::mutex> l(mu);
        cv.wait_for(l, std::chrono::milliseconds(100), [&] { return room; });
        room = false;
      }
      batch.reset();
    };
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      if (!ParseRecord(parser, line, &r)) {
        ++unreadable;
        continue;
      }
      if (!batch) {
        batch = std::make_shared<Batch>();
        batch->source = "dlq_replay";
        batch->internal = true;
        batch->received_ms = NowMs();
      }
      batch->Append(r.original);
      ++events;
      if (batch->size() >= 2048) push();
    }
    push();
    std::unique_lock<std::mutex> l(mu);
    const bool done = cv.wait_for(l, std::chrono::milliseconds(app->options().shutdown_timeout_ms),
                                  [&] { return pending.load() == 0; });
    l.unlock();
    std::string name = fs::path(path).filename().string();
    if (done && unreadable == 0) {
      fs::remove(path);
      out << name << ": " << events << " events replayed, file removed\n";
      replayed_total += events;
    } else {
      exit_code = 1;
      out << name << ": " << events << " events sent, "
          << (done ? StrCat(unreadable, " unreadable lines") : std::string("not all delivered in time"))
          << "; file kept\n";
    }
    close(fd);
  }
  app->Shutdown();
  uint64_t again = app->dead_letters()->written();
  out << replayed_total << " events replayed";
  if (again) out << "; " << again << " of them were dead-lettered again (see `sluice dlq list`)";
  out << "\n";
  return exit_code;
}

}  // namespace

int RunDlqCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << "usage: sluice dlq list|show|replay --config FILE [--file NAME] [--limit N]\n";
    return 2;
  }
  const std::string cmd = args[0];
  const std::string config = FlagValue(args, "--config");
  if (config.empty()) {
    err << "sluice dlq " << cmd << ": --config FILE is required (the dead-letter queue is <data_dir>/dlq)\n";
    return 2;
  }
  if (cmd == "replay") return Replay(config, out, err);
  auto app = App::LoadFile(config, true);
  if (!app.ok()) {
    err << MessageOf(app.status().message()) << "\n";
    return 1;
  }
  const std::string dir = (*app)->options().dead_letter.dir;
  if (cmd == "list") return List(dir, out);
  if (cmd == "show") return Show(dir, FlagValue(args, "--file"), std::stoul(FlagValue(args, "--limit", "100")), out);
  err << "sluice dlq: unknown subcommand \"" << cmd << "\" (list, show, replay)\n";
  return 2;
}

}  // namespace sluice
