#pragma once
// The capacity report: sizing arithmetic, Markdown, a hand-written SVG chart
// and the raw figures as JSON (what the CTest test checks).

#include <string>
#include <vector>

#include "bench/capacity/scenario.h"
#include "bench/capacity/steps.h"

namespace sluice::bench::capacity {

struct ShipperRun {
  std::string name, version;
  std::vector<StepResult> steps;  // the unpaced calibration step (if any) first, then offered rates ascending
  // From /metrics after the last step (sluice only): the rules' work over the paced steps.
  bool has_rule_metrics = false;
  double rule_matches = 0, rule_late_events = 0, alerts_firing = 0, rule_state_bytes = 0;
  // The step that delivered the most events/s.
  const StepResult* Saturation() const;
  std::vector<const StepResult*> Paced() const;
};

// How many cores and how much memory `target` events/s needs, from the
// measured figures (see the derivation in Explain()).
struct Sizing {
  double target_eps = 0, headroom = 0;
  double events_per_cpu_s = 0;  // at saturation
  double cores_exact = 0;
  int cores = 0;
  double idle_rss_mib = 0, kept_up_rss_mib = 0, kept_up_cores = 0, kept_up_eps = 0, rss_per_core_mib = 0;
  double busy_cores_at_target = 0;
  double steady_mib = 0;  // while keeping up, with headroom
  int memory_mib = 0;     // max(steady_mib, run_peak_rss_mib), rounded up
  double queue_capacity_mib = 0;
  double run_peak_rss_mib = 0;
  std::string Explain() const;
};
Sizing ComputeSizing(const ShipperRun& run, double target_eps, double headroom);

struct RunInfo {
  std::string command, date, machine, scenario_file;
  uint64_t distinct_events = 0;
  double event_bytes = 0, wire_bytes_per_event = 0;
};

std::string MarkdownReport(const Scenario& s, const RunInfo& info, const std::vector<ShipperRun>& runs,
                           const Sizing* sizing, const std::string& svg_file);
std::string SvgChart(const Scenario& s, const std::vector<ShipperRun>& runs);
std::string JsonReport(const Scenario& s, const RunInfo& info, const std::vector<ShipperRun>& runs, const Sizing* sizing);

}  // namespace sluice::bench::capacity
