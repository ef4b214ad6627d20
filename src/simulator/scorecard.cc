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
  std::string fault, key, expected, stage;
  int64_t start_ms = 0;
  int line = 0;
};

struct FiredAlert {
  std::string name;
  std::map<std::string, std::string> labels;
  int64_t starts_ms = 0;
  bool used = false;
};

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
      bool names_key = false;
      bool names_an_order = a.labels.count("order_id") > 0;
      for (const auto& [k, v] : a.labels) names_key |= v == f.key;
      if (names_key && a.starts_ms >= f.start_ms - window_ms) {
        by_key = &a;
        break;
      }
      // A rule grouped by service raises one alert for several faults: one
      // already firing when the fault starts catches it too (after 0s).
      if (!by_time && !names_an_order && a.starts_ms >= f.start_ms - window_ms / 3 &&
          a.starts_ms <= f.start_ms + window_ms) {
        by_time = &a;
      }
    }
    FiredAlert* hit = by_key ? by_key : by_time;
    std::string after = "-";
    if (hit) {
      ++r.caught;
      hit->used = true;
      after = hit->starts_ms >= f.start_ms ? Duration(hit->starts_ms - f.start_ms) : "0s (already firing)";
    }
    std::snprintf(row, sizeof row, "  %-22s %-16s %-22s %-8s %s\n", f.fault.c_str(), f.key.c_str(), f.expected.c_str(),
                  hit ? "yes" : "NO", after.c_str());
    out << row;
  }
  std::vector<const FiredAlert*> unexplained;
  for (const FiredAlert& a : alerts) {
    if (!a.used) unexplained.push_back(&a);
  }
  r.unexplained_alerts = static_cast<int>(unexplained.size());
  out << "\nAlerts that match no injected fault: " << unexplained.size() << "\n";
  for (const FiredAlert* a : unexplained) {
    std::vector<std::string> parts;
    for (const auto& [k, v] : a->labels) parts.push_back(StrCat(k, "=", v));
    out << "  " << FormatRfc3339Ms(a->starts_ms) << "  {" << StrJoin(parts, ", ") << "}\n";
  }
  out << "\n" << r.caught << " of " << r.faults << " injected faults caught, " << r.unexplained_alerts
      << " unexplained alerts\n";
  return r;
}

}  // namespace sluice::simulator
