#include "simulator/simulator.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>

#include "common/strings.h"
#include "common/timeutil.h"
#include "common/units.h"
#include "simulator/lumberjack_client.h"

namespace sluice::simulator {

const char kSimulateUsage[] =
    "usage: sluice simulate [--scenario FILE] [--beats HOST:PORT] [--syslog HOST:PORT]\n"
    "                       [--duration 1h] [--speed 60] [--seed 1] [--truth FILE]\n"
    "                       [--window 1024] [--compression 3] [--quiet] [--print]\n"
    "  --speed N   simulated seconds per real second (0: as fast as possible)\n"
    "  --print     also write every event to stdout\n";

bool ParseSimulateArgs(const std::vector<std::string>& args, SimulatorOptions* o, std::string* error) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i], v;
    size_t eq = a.find('=');
    if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (a == "--quiet") {
      o->progress = false;
      continue;
    } else if (a == "--print") {
      o->print = true;
      continue;
    } else if (i + 1 < args.size()) {
      v = args[++i];
    } else {
      *error = StrCat(a, ": missing value");
      return false;
    }
    char* end = nullptr;
    if (a == "--scenario") {
      o->scenario_file = v;
    } else if (a == "--beats") {
      o->beats = v;
    } else if (a == "--syslog") {
      o->syslog = v;
    } else if (a == "--truth") {
      o->truth_file = v;
    } else if (a == "--duration") {
      auto d = ParseDurationMs(v);
      if (!d.ok() || *d <= 0) {
        *error = StrCat("--duration: invalid duration \"", v, "\" (e.g. 30m, 2h)");
        return false;
      }
      o->duration_ms = *d;
    } else if (a == "--speed") {
      o->speed = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end || o->speed < 0) {
        *error = StrCat("--speed: expected a number >= 0, got \"", v, "\"");
        return false;
      }
    } else if (a == "--seed") {
      o->seed = std::strtoull(v.c_str(), &end, 10);
      if (end == v.c_str() || *end) {
        *error = StrCat("--seed: expected an integer, got \"", v, "\"");
        return false;
      }
    } else if (a == "--window" || a == "--compression") {
      long n = std::strtol(v.c_str(), &end, 10);
      bool window = a == "--window";
      if (end == v.c_str() || *end || (window ? (n < 1 || n > 100'000) : (n < 0 || n > 12))) {
        *error = StrCat(a, ": out of range: \"", v, "\"");
        return false;
      }
      (window ? o->window : o->compression) = static_cast<int>(n);
    } else {
      *error = StrCat("unknown option ", a);
      return false;
    }
  }
  return true;
}

namespace {

class SyslogSender {
 public:
  ~SyslogSender() {
    if (fd_ >= 0) close(fd_);
  }
  bool connected() const { return fd_ >= 0; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  absl::Status Connect(const std::string& host_port) {
    Close();
    std::string err;
    fd_ = ConnectTcp(host_port, 10'000, &err);
    return fd_ < 0 ? absl::UnavailableError(err) : absl::OkStatus();
  }
  // Newline-framed (RFC 6587 non-transparent framing).
  absl::Status Send(const std::string& lines) {
    size_t off = 0;
    while (off < lines.size()) {
      ssize_t n = send(fd_, lines.data() + off, lines.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return absl::UnavailableError(StrCat("syslog send: ", std::strerror(errno)));
      off += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }

 private:
  int fd_ = -1;
};

}  // namespace

absl::Status RunSimulation(const SimulatorOptions& opts, std::ostream& progress, SimulatorResult* result) {
  absl::StatusOr<Scenario> sc =
      opts.scenario_file.empty() ? ParseScenario("name: default\n", "<default scenario>")
                                 : LoadScenarioFile(opts.scenario_file);
  if (!sc.ok()) return sc.status();
  if (opts.duration_ms > 0) sc->duration_ms = opts.duration_ms;
  ShopGenerator gen(std::move(*sc), opts.seed);

  std::ofstream truth_out;
  if (!opts.truth_file.empty()) {
    truth_out.open(opts.truth_file, std::ios::trunc);
    if (!truth_out) return absl::InternalError(StrCat("cannot write ", opts.truth_file));
  }
  LumberjackClient beats(opts.compression);
  SyslogSender syslog;
  if (!opts.beats.empty()) {
    if (auto s = beats.Connect(opts.beats); !s.ok()) return s;
  }
  if (!opts.syslog.empty()) {
    if (auto s = syslog.Connect(opts.syslog); !s.ok()) return s;
  }

  using Clock = std::chrono::steady_clock;
  const auto real_start = Clock::now();
  auto last_progress = real_start;
  uint64_t last_sent = 0;
  int64_t cursor = gen.start_ms();
  std::vector<SimEvent> events;
  std::vector<std::string> truth, window;
  std::string lines;
  auto sent = [&] { return gen.stats().beats_events + gen.stats().syslog_events; };
  auto report = [&](bool final) {
    auto now = Clock::now();
    double dt = std::chrono::duration<double>(now - last_progress).count();
    double total = std::chrono::duration<double>(now - real_start).count();
    const GeneratorStats& st = gen.stats();
    double rate = final ? static_cast<double>(sent()) / std::max(total, 1e-9)
                        : static_cast<double>(sent() - last_sent) / std::max(dt, 1e-9);
    progress << (final ? "" : "\r") << "simulate: " << FormatRfc3339Ms(cursor).substr(0, 19) << "  events "
             << sent() << " (beats " << st.beats_events << ", syslog " << st.syslog_events << ")  "
             << static_cast<uint64_t>(rate) << " ev/s  orders " << st.orders << "  faults " << st.faults_started
             << "/" << gen.scenario().faults.size() << "  truth " << st.truth_records << (final ? "\n" : "   ");
    progress.flush();
    last_progress = now;
    last_sent = sent();
  };

  // Like Filebeat, a window that was not ACKed is sent again after
  // reconnecting (at least once), so sluice can be restarted mid-run.
  auto retry = [&](const char* what, const std::function<absl::Status()>& attempt) -> absl::Status {
    absl::Status st = attempt();
    const auto give_up = Clock::now() + std::chrono::seconds(opts.retry_seconds);
    int delay_ms = 100;
    while (!st.ok() && Clock::now() < give_up) {
      progress << "\nsimulate: " << what << ": " << MessageOf(st.message()) << "; retrying\n";
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      delay_ms = std::min(delay_ms * 2, 2000);
      ++result->reconnects;
      st = attempt();
    }
    return st;
  };
  auto send_window = [&] {
    return retry("beats", [&]() -> absl::Status {
      if (!beats.connected()) {
        if (auto s = beats.Connect(opts.beats); !s.ok()) return s;
      }
      return beats.SendWindow(window);
    });
  };
  auto send_lines = [&] {
    return retry("syslog", [&]() -> absl::Status {
      if (!syslog.connected()) {
        if (auto s = syslog.Connect(opts.syslog); !s.ok()) return s;
      }
      auto s = syslog.Send(lines);
      if (!s.ok()) syslog.Close();
      return s;
    });
  };

  while (!gen.done()) {
    int64_t until;
    if (opts.speed > 0) {
      double real_s = std::chrono::duration<double>(Clock::now() - real_start).count();
      int64_t target = gen.start_ms() + static_cast<int64_t>(real_s * opts.speed * 1000.0);
      until = std::min(target, cursor + 10'000);
      if (until <= cursor) {
        // Pacing: wait for real time to catch up with the next slice of simulated time.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
    } else {
      // Unpaced (a throughput test): slices long enough to fill whole
      // Lumberjack windows, as Filebeat's bulk_max_size does under load.
      until = cursor + 120'000;
    }
    events.clear();
    truth.clear();
    gen.GenerateUntil(until, &events, &truth);
    cursor = std::min(until, gen.end_ms());
    for (const std::string& t : truth) truth_out << t << '\n';
    if (!truth.empty()) truth_out.flush();
    window.clear();
    lines.clear();
    for (SimEvent& e : events) {
      if (opts.print) std::fwrite((e.text + "\n").data(), 1, e.text.size() + 1, stdout);
      if (e.channel == SimEvent::kSyslog) {
        if (opts.syslog.empty()) continue;
        lines += e.text;
        lines += '\n';
      } else if (!opts.beats.empty()) {
        window.push_back(std::move(e.text));
        if (window.size() >= static_cast<size_t>(opts.window)) {
          if (auto s = send_window(); !s.ok()) return s;
          ++result->windows;
          window.clear();
        }
      }
    }
    if (!window.empty()) {
      if (auto s = send_window(); !s.ok()) return s;
      ++result->windows;
    }
    if (!lines.empty()) {
      if (auto s = send_lines(); !s.ok()) return s;
    }
    if (opts.progress && Clock::now() - last_progress >= std::chrono::seconds(1)) report(false);
  }
  result->stats = gen.stats();
  result->wall_seconds = std::chrono::duration<double>(Clock::now() - real_start).count();
  result->events_per_second = static_cast<double>(sent()) / std::max(result->wall_seconds, 1e-9);
  if (opts.progress) report(true);
  return absl::OkStatus();
}

}  // namespace sluice::simulator
