#include "bench/capacity/scenario.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <set>

namespace sluice::bench::capacity {
namespace {

// Reads `key` of `node` into *out if present; records the key as known.
template <typename T>
void Read(const YAML::Node& node, const char* key, T* out, std::set<std::string>* known) {
  known->insert(key);
  if (node[key]) *out = node[key].as<T>();
}

bool RejectUnknown(const YAML::Node& node, const std::set<std::string>& known, const std::string& where,
                   std::string* error) {
  for (const auto& kv : node) {
    const std::string k = kv.first.as<std::string>();
    if (!known.count(k)) {
      *error = "line " + std::to_string(kv.first.Mark().line + 1) + ": unknown key \"" + where + k + "\"";
      return false;
    }
  }
  return true;
}

}  // namespace

const char* ProtocolName(Protocol p) { return p == Protocol::kBeats ? "beats" : "syslog_tcp"; }

const char* SourceName(EventSource s) {
  switch (s) {
    case EventSource::kSynthetic: return "synthetic";
    case EventSource::kNdjson: return "ndjson";
    case EventSource::kSimulator: return "simulator";
  }
  return "?";
}

std::optional<Scenario> LoadScenario(const std::string& path, std::string* error) {
  Scenario s;
  s.name = std::filesystem::path(path).stem().string();
  try {
    YAML::Node root = YAML::LoadFile(path);
    std::set<std::string> known;
    std::string protocol = "beats", source = "synthetic";
    Read(root, "name", &s.name, &known);
    Read(root, "description", &s.description, &known);
    Read(root, "protocol", &protocol, &known);
    Read(root, "compression", &s.compression, &known);
    Read(root, "window", &s.window, &known);
    Read(root, "pipelining", &s.pipelining, &known);
    Read(root, "connections", &s.connections, &known);
    Read(root, "rules", &s.rules, &known);
    Read(root, "queue", &s.queue, &known);
    Read(root, "sync", &s.sync, &known);
    Read(root, "workers", &s.workers, &known);
    Read(root, "compare", &s.compare, &known);
    known.insert({"events", "load", "sizing"});
    if (!RejectUnknown(root, known, "", error)) return std::nullopt;

    if (YAML::Node ev = root["events"]) {
      std::set<std::string> k;
      Read(ev, "source", &source, &k);
      Read(ev, "bytes", &s.event_bytes, &k);
      Read(ev, "file", &s.file, &k);
      Read(ev, "duration", &s.simulator_duration, &k);
      Read(ev, "scenario", &s.simulator_scenario, &k);
      Read(ev, "seed", &s.simulator_seed, &k);
      if (!RejectUnknown(ev, k, "events.", error)) return std::nullopt;
    }
    if (YAML::Node load = root["load"]) {
      std::set<std::string> k;
      Read(load, "calibrate_seconds", &s.calibrate_seconds, &k);
      Read(load, "step_seconds", &s.step_seconds, &k);
      Read(load, "fractions", &s.fractions, &k);
      Read(load, "rates", &s.rates, &k);
      Read(load, "drain_seconds", &s.drain_seconds, &k);
      if (!RejectUnknown(load, k, "load.", error)) return std::nullopt;
    }
    if (YAML::Node sizing = root["sizing"]) {
      std::set<std::string> k;
      Read(sizing, "target_events_per_second", &s.target_events_per_second, &k);
      Read(sizing, "headroom", &s.headroom, &k);
      if (!RejectUnknown(sizing, k, "sizing.", error)) return std::nullopt;
    }

    if (protocol == "beats") s.protocol = Protocol::kBeats;
    else if (protocol == "syslog_tcp") s.protocol = Protocol::kSyslogTcp;
    else return *error = "protocol: \"" + protocol + "\" (expected beats or syslog_tcp)", std::nullopt;
    if (source == "synthetic") s.source = EventSource::kSynthetic;
    else if (source == "ndjson") s.source = EventSource::kNdjson;
    else if (source == "simulator") s.source = EventSource::kSimulator;
    else return *error = "events.source: \"" + source + "\" (expected synthetic, ndjson or simulator)", std::nullopt;
  } catch (const YAML::Exception& e) {
    *error = e.what();
    return std::nullopt;
  }

  auto fail = [&](const std::string& what) {
    *error = what;
    return std::nullopt;
  };
  if (s.source == EventSource::kNdjson && s.file.empty()) return fail("events.file is required with source: ndjson");
  if (s.queue != "memory" && s.queue != "persisted") return fail("queue: expected memory or persisted");
  if (!s.compare.empty() && s.compare != "rsyslog") return fail("compare: only rsyslog is supported");
  if (!s.compare.empty() && s.protocol != Protocol::kSyslogTcp) return fail("compare: rsyslog needs protocol syslog_tcp");
  if (s.compression < 0 || s.compression > 12) return fail("compression: expected 0..12");
  if (s.window < 1 || s.pipelining < 1 || s.connections < 1) return fail("window, pipelining, connections: >= 1");
  if (s.step_seconds <= 0 || s.calibrate_seconds <= 0) return fail("load: step and calibrate seconds must be > 0");
  if (s.headroom < 0 || s.headroom >= 1) return fail("sizing.headroom: expected [0, 1)");
  std::vector<double>& steps = s.rates.empty() ? s.fractions : s.rates;
  if (steps.empty()) return fail("load: no steps");
  if (!std::is_sorted(steps.begin(), steps.end()) || std::adjacent_find(steps.begin(), steps.end()) != steps.end() ||
      steps.front() <= 0) {
    return fail("load: steps must be positive and strictly increasing");
  }
  return s;
}

}  // namespace sluice::bench::capacity
