#include "bench/capacity/receivers.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <sstream>

#include "bench/loadgen/load.h"

namespace sluice::bench::capacity {
namespace {

bool Accepts(int port) {
  int fd = ConnectTcp("127.0.0.1", port);
  if (fd < 0) return false;
  close(fd);
  return true;
}

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

// Output of a short command (its first line), or "".
std::string CommandLine(const std::string& cmd) {
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[256];
    if (std::fgets(buf, sizeof buf, p)) out = buf;
    pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string Absolute(const std::string& path) { return std::filesystem::absolute(path).lexically_normal().string(); }

// bench/rsyslog/imtcp-to-elasticsearch.conf (shared with
// bench/run_syslog_vs_rsyslog.sh) with its placeholders filled in.
std::string RsyslogConfig(const std::string& work, int tcp_port, int es_port) {
  std::string c = ReadFileText(std::string(SLUICE_SOURCE_DIR) + "/bench/rsyslog/imtcp-to-elasticsearch.conf");
  for (const auto& [key, value] : {std::pair<std::string, std::string>{"@WORK_DIR@", work},
                                   {"@TCP_PORT@", std::to_string(tcp_port)},
                                   {"@ES_PORT@", std::to_string(es_port)}}) {
    for (size_t at; (at = c.find(key)) != std::string::npos;) c.replace(at, key.size(), value);
  }
  return c;
}

}  // namespace

std::optional<BulkEndpoint> StartBulkEndpoint(const Binaries& bin, const std::string& dir, const std::string& name,
                                              std::string* error) {
  BulkEndpoint ep;
  const std::string out = dir + "/" + name + ".out";
  ep.proc = ChildProcess::Start({bin.emulator, "--listen", "127.0.0.1:0", "--fast"}, out, dir + "/" + name + ".err",
                                error);
  if (!ep.proc) return std::nullopt;
  WaitUntil([&] { return ReadFileText(out).find('\n') != std::string::npos; }, 10);
  const std::string line = FirstLine(ReadFileText(out));
  // The first line of its stdout is the bound port (or ends with it).
  const size_t colon = line.find_last_of(':');
  ep.port = std::atoi(line.c_str() + (colon == std::string::npos ? 0 : colon + 1));
  if (ep.port <= 0) {
    *error = bin.emulator + ": no port on its first line (\"" + line + "\")";
    return std::nullopt;
  }
  return ep;
}

bool IndexedCount(int port, uint64_t* count) {
  std::string body;
  if (!HttpGet(port, "/_stats", &body)) return false;
  size_t at = body.find("\"items_ok\":");
  if (at == std::string::npos) return false;
  *count = std::strtoull(body.c_str() + at + 11, nullptr, 10);
  return true;
}

namespace {

// Names the receiver, starts its bulk endpoint and picks its input port.
bool Prepare(Receiver* r, const std::string& name, const std::string& version_command, const Binaries& bin,
             const std::string& dir, std::string* error) {
  r->name = name;
  r->version = CommandLine(version_command + " 2>&1");
  auto es = StartBulkEndpoint(bin, dir, "es-" + name, error);
  if (!es) return false;
  r->es = std::move(*es);
  r->input_port = FreePort();
  return true;
}

// Starts the shipper (output in <dir>/<name>.out|.err) and waits until `ready`.
bool Launch(Receiver* r, const std::vector<std::string>& argv, const std::string& dir,
            const std::function<bool()>& ready, std::string* error) {
  const std::string err = dir + "/" + r->name + ".err";
  r->proc = ChildProcess::Start(argv, dir + "/" + r->name + ".out", err, error);
  if (!r->proc) return false;
  if (!WaitUntil([&] { return !r->proc->Running() || ready(); }, 30) || !r->proc->Running()) {
    *error = r->name + " did not start (config in " + dir + "): " + ReadFileText(err);
    return false;
  }
  return true;
}

}  // namespace

std::optional<Receiver> StartSluice(const Scenario& s, const Binaries& bin, const std::string& dir, std::string* error) {
  Receiver r;
  if (!Prepare(&r, "sluice", bin.sluice + " version", bin, dir, error)) return std::nullopt;
  r.metrics_port = FreePort();
  std::ostringstream cfg;
  cfg << "data_dir: " << dir << "/sluice-data\n"
      << "http: {listen: 127.0.0.1:" << r.metrics_port << "}\n"
      << "log_level: warn\n"
      << "pipeline:\n  workers: " << s.workers << "\n";
  if (s.queue == "persisted") cfg << "  queue: {type: persisted, sync: " << s.sync << "}\n";
  cfg << "inputs:\n";
  if (s.protocol == Protocol::kBeats) {
    cfg << "  - {type: beats, listen: \"127.0.0.1:" << r.input_port << "\"}\n";
  } else {
    cfg << "  - {type: syslog, protocol: tcp, listen: \"127.0.0.1:" << r.input_port << "\"}\n";
  }
  cfg << "outputs:\n  - {type: elasticsearch, hosts: [\"http://127.0.0.1:" << r.es.port << "\"], index: bench}\n";
  if (!s.rules.empty()) cfg << "rules:\n  paths: [\"" << Absolute(s.rules) << "\"]\n";
  const std::string config = dir + "/sluice.yml";
  WriteFileText(config, cfg.str());
  std::string body;
  if (!Launch(&r, {bin.sluice, "run", "--config", config}, dir,
              [&] { return HttpGet(r.metrics_port, "/healthz", &body); }, error)) {
    return std::nullopt;
  }
  return r;
}

std::optional<Receiver> StartRsyslog(const Binaries& bin, const std::string& dir, std::string* error) {
  Receiver r;
  if (!Prepare(&r, "rsyslog", bin.rsyslogd + " -v", bin, dir, error)) return std::nullopt;
  const std::string work = dir + "/rsyslog-work";
  std::filesystem::create_directories(work);
  const std::string config = dir + "/rsyslog.conf";
  WriteFileText(config, RsyslogConfig(work, r.input_port, r.es.port));
  if (!Launch(&r, {bin.rsyslogd, "-n", "-f", config, "-i", dir + "/rsyslog.pid"}, dir,
              [&] { return Accepts(r.input_port); }, error)) {
    return std::nullopt;
  }
  return r;
}

double SumMetric(const std::string& metrics, const std::string& name, std::string_view skip_label) {
  double sum = 0;
  std::istringstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    // "name value" or "name{labels} value"; not a longer name that starts the same.
    if (line.rfind(name, 0) != 0 || (line[name.size()] != ' ' && line[name.size()] != '{')) continue;
    if (!skip_label.empty() && line.find(skip_label) != std::string::npos) continue;
    const size_t sp = line.find_last_of(' ');
    if (sp != std::string::npos) sum += std::atof(line.c_str() + sp + 1);
  }
  return sum;
}

double QueueBytes(const std::string& metrics, double* max_bytes) {
  // The persisted queue's bound is on disk (1 GiB by default): the report's
  // "the queues may hold" is about memory.
  if (max_bytes) *max_bytes = SumMetric(metrics, "sluice_queue_max_bytes", "queue=\"persisted\"");
  return SumMetric(metrics, "sluice_queue_bytes");
}

}  // namespace sluice::bench::capacity
