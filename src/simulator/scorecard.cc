#include "simulator/scorecard.h"

#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "common/strings.h"
#include "common/timeutil.h"

namespace sluice::simulator {
namespace {

struct Fault {
  std::string fault, key, expected, stage, service;
  std::vector<std::string> side_effects;
  int64_t start_ms = 0;
  int line = 0;
};

struct FiredAlert {
  std::string name;
  std::map<std::string, std::string> labels;
  int64_t starts_ms = 0;
  bool used = false;
  const Fault* side_effect_of = nullptr;
};

enum class Match { kNone, kByTime, kByKey };

// Whether alert `a` (whatever its name) is about fault `f`: it names the
// fault's key, or — a rule grouped by service or by nothing, which cannot name
// one order — it fired around the fault's start. A service label must be the
// fault's service.
Match Explains(const Fault& f, const FiredAlert& a, int64_t window_ms) {
  bool names_key = false;
  for (const auto& [k, v] : a.labels) names_key |= v == f.key;
  if (names_key && a.starts_ms >= f.start_ms - window_ms) return Match::kByKey;
  if (a.labels.count("order_id") > 0) return Match::kNone;
  auto svc = a.labels.find("service_name");
  if (!f.service.empty() && svc != a.labels.end() && svc->second != f.service) return Match::kNone;
  // One alert per service covers several faults: one already firing when the
  // fault starts catches it too (after 0s).
  if (a.starts_ms >= f.start_ms - window_ms / 3 && a.starts_ms <= f.start_ms + window_ms) return Match::kByTime;
  return Match::kNone;
}

std::vector<std::string> Lines(const std::string& path, bool* ok) {
  std::ifstream in(path);
  *ok = static_cast<bool>(in);
  std::vector<std::string> out;
  std::string l;
  while (std::getline(in, l)) {
    if (!l.empty()) out.push_back(l);
  }
  return out;
}

std::string Str(simdjson::dom::element e, const char* key) {
  std::string_view v;
  if (e[key].get(v) != simdjson::SUCCESS) return "";
  return std::string(v);
}

int64_t Time(simdjson::dom::element e, const char* key) {
  int64_t ms = 0;
  std::string_view v;
  if (e[key].get(v) == simdjson::SUCCESS) ParseRfc3339Ms(v, &ms);
  return ms;
}

std::string Duration(int64_t ms) {
  if (ms < 0) return StrCat("-", Duration(-ms));
  int64_t s = ms / 1000;
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600), static_cast<long long>(s / 60 % 60));
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  else std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  return buf;
}

}  // namespace

ScorecardResult WriteScorecard(const std::string& truth_path, const std::string& alerts_path, std::ostream& out,
                               int64_t window_ms) {
  ScorecardResult r;
  bool ok_t, ok_a;
  std::vector<std::string> truth_lines = Lines(truth_path, &ok_t);
  std::vector<std::string> alert_lines = Lines(alerts_path, &ok_a);
  if (!ok_t) {
    out << "scorecard: cannot read " << truth_path << "\n";
    return r;
  }
  simdjson::dom::parser parser;
  std::vector<Fault> faults;
  std::map<std::string, int> fault_groups;  // aggregate lines (no key): "type @line" -> count of keyed items
  for (const auto& l : truth_lines) {
    simdjson::dom::element e;
    if (parser.parse(l).get(e) != simdjson::SUCCESS) continue;
    Fault f;
    f.fault = Str(e, "fault");
    f.key = Str(e, "key");
    f.expected = Str(e, "expected_alert");
    f.stage = Str(e, "stage");
    f.service = Str(e, "service");
    simdjson::dom::array side;
    if (e["side_effect_alerts"].get(side) == simdjson::SUCCESS) {
      for (auto v : side) {
        std::string_view sv;
        if (v.get(sv) == simdjson::SUCCESS) f.side_effects.emplace_back(sv);
      }
    }
    f.start_ms = Time(e, "start");
    int64_t line = 0;
    if (e["scenario_line"].get(line) == simdjson::SUCCESS) f.line = static_cast<int>(line);
    if (f.key.empty()) continue;  // the announcement of a fault whose items follow one per order
    faults.push_back(std::move(f));
  }
  std::vector<FiredAlert> alerts;
  for (const auto& l : alert_lines) {
    simdjson::dom::element e;
    if (parser.parse(l).get(e) != simdjson::SUCCESS) continue;
    if (Str(e, "state") != "firing") continue;
    FiredAlert a;
    simdjson::dom::object labels;
    if (e["labels"].get(labels) == simdjson::SUCCESS) {
      for (auto [k, v] : labels) {
        std::string_view sv;
        if (v.get(sv) == simdjson::SUCCESS) a.labels[std::string(k)] = std::string(sv);
      }
    }
    a.name = a.labels["alertname"];
    a.starts_ms = Time(e, "startsAt");
    alerts.push_back(std::move(a));
  }
  std::stable_sort(alerts.begin(), alerts.end(), [](const auto& x, const auto& y) { return x.starts_ms < y.starts_ms; });

  out << "Scorecard: " << faults.size() << " injected faults (" << truth_path << ") against " << alerts.size()
      << " firing alerts (" << alerts_path << ")\n\n";
  char row[512];
  std::snprintf(row, sizeof row, "  %-22s %-16s %-22s %-8s %s\n", "fault", "key", "expected alert", "caught", "after");
  out << row;
  for (const Fault& f : faults) {
    ++r.faults;
    FiredAlert* by_key = nullptr;
    FiredAlert* by_time = nullptr;
    for (FiredAlert& a : alerts) {
      if (a.name != f.expected) continue;
      Match m = Explains(f, a, window_ms);
      if (m == Match::kByKey) {
        by_key = &a;
        break;
      }
      if (m == Match::kByTime && !by_time) by_time = &a;
    }
    FiredAlert* hit = by_key ? by_key : by_time;
    std::string after = "-";
    if (hit) {
      ++r.caught;
      hit->used = true;
      // An alert naming the key can start a little before the fault's event
      // time: it is evaluated at stream time minus the allowed lateness.
      after = hit->starts_ms >= f.start_ms ? Duration(hit->starts_ms - f.start_ms)
              : by_key                     ? "0s"
                                           : "0s (already firing)";
    }
    std::snprintf(row, sizeof row, "  %-22s %-16s %-22s %-8s %s\n", f.fault.c_str(), f.key.c_str(), f.expected.c_str(),
                  hit ? "yes" : "NO", after.c_str());
    out << row;
    r.rows.push_back({f.fault, f.key, f.expected, hit != nullptr, hit ? hit->starts_ms - f.start_ms : 0});
  }
  // The other alerts: side effects of a fault, or unexplained. A key match
  // wins over a time match.
  std::vector<const FiredAlert*> side, unexplained;
  for (FiredAlert& a : alerts) {
    if (a.used) continue;
    Match best = Match::kNone;
    for (const Fault& f : faults) {
      if (std::find(f.side_effects.begin(), f.side_effects.end(), a.name) == f.side_effects.end()) continue;
      Match m = Explains(f, a, window_ms);
      if (m > best) {
        best = m;
        a.side_effect_of = &f;
      }
    }
    (a.side_effect_of ? side : unexplained).push_back(&a);
  }
  auto labels_of = [](const FiredAlert& a) {
    std::vector<std::string> parts;
    for (const auto& [k, v] : a.labels) parts.push_back(StrCat(k, "=", v));
    return StrCat("{", StrJoin(parts, ", "), "}");
  };
  r.side_effect_alerts = static_cast<int>(side.size());
  r.unexplained_alerts = static_cast<int>(unexplained.size());
  if (!side.empty()) {
    out << "\nAlerts explained as side effects of an injected fault: " << side.size() << "\n";
    for (const FiredAlert* a : side) {
      out << "  " << FormatRfc3339Ms(a->starts_ms) << "  " << labels_of(*a) << "  <- " << a->side_effect_of->fault
          << " " << a->side_effect_of->key << "\n";
    }
  }
  out << "\nAlerts that match no injected fault: " << unexplained.size() << "\n";
  for (const FiredAlert* a : unexplained) out << "  " << FormatRfc3339Ms(a->starts_ms) << "  " << labels_of(*a) << "\n";
  out << "\n" << r.caught << " of " << r.faults << " injected faults caught, " << r.unexplained_alerts
      << " unexplained alerts";
  if (!side.empty()) out << " (" << side.size() << " side-effect alerts)";
  out << "\n";
  return r;
}

}  // namespace sluice::simulator
