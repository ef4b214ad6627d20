#include "bench/capacity/report.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <sstream>

namespace sluice::bench::capacity {
namespace {

std::string F(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

// 1234567 → "1.23M", 45600 → "45.6k".
std::string Short(double v) {
  if (v >= 1e6) return F("%.2fM", v / 1e6);
  if (v >= 1e4) return F("%.0fk", v / 1e3);
  if (v >= 1e3) return F("%.1fk", v / 1e3);
  return F("%.0f", v);
}

std::string Mib(double bytes) { return F("%.1f", bytes / (1024.0 * 1024.0)); }

const char* kColors[] = {"#1f6fb4", "#d9480f", "#2b8a3e", "#862e9c"};

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

// A "nice" axis maximum (a round multiple of a power of ten), >= v.
double NiceCeil(double v) {
  if (v <= 0) return 1;
  double p = std::pow(10, std::floor(std::log10(v)));
  for (double m : {1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0}) {
    if (m * p >= v) return m * p;
  }
  return 10 * p;
}

// One chart panel: maps data to pixels, draws the frame, ticks and labels.
class Panel {
 public:
  Panel(double x0, double y0, double w, double h, double xmax, double ymin, double ymax, bool log_y)
      : x0_(x0), y0_(y0), w_(w), h_(h), xmax_(xmax), ymin_(ymin), ymax_(ymax), log_y_(log_y) {}
  double X(double v) const { return x0_ + w_ * v / xmax_; }
  double Y(double v) const {
    double f = log_y_ ? (std::log10(std::max(v, ymin_)) - std::log10(ymin_)) / (std::log10(ymax_) - std::log10(ymin_))
                      : (v - ymin_) / (ymax_ - ymin_);
    return y0_ + h_ - h_ * std::clamp(f, 0.0, 1.0);
  }
  void Frame(std::ostringstream& o, const std::string& title, const std::string& xlabel, const std::string& ylabel) const {
    o << F("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#888\"/>\n", x0_, y0_, w_, h_);
    o << F("<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" font-weight=\"bold\">", x0_, y0_ - 10) << XmlEscape(title)
      << "</text>\n";
    o << F("<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">", x0_ + w_ / 2, y0_ + h_ + 36)
      << XmlEscape(xlabel) << "</text>\n";
    o << F("<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 %.1f %.1f)\">",
           x0_ - 52, y0_ + h_ / 2, x0_ - 52, y0_ + h_ / 2)
      << XmlEscape(ylabel) << "</text>\n";
    for (int i = 0; i <= 5; ++i) {
      double v = xmax_ * i / 5;
      o << F("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", X(v), y0_, X(v), y0_ + h_);
      o << F("<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%s</text>\n", X(v), y0_ + h_ + 16,
             Short(v).c_str());
    }
    std::vector<double> yticks;
    if (log_y_) {
      for (double v = ymin_; v <= ymax_ * 1.001; v *= 10) yticks.push_back(v);
    } else {
      for (int i = 0; i <= 5; ++i) yticks.push_back(ymin_ + (ymax_ - ymin_) * i / 5);
    }
    for (double v : yticks) {
      o << F("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", x0_, Y(v), x0_ + w_, Y(v));
      o << F("<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s</text>\n", x0_ - 6, Y(v) + 4,
             log_y_ ? F("%g", v).c_str() : Short(v).c_str());
    }
  }
  // A polyline with a dot per point; `dash` for a dashed line.
  void Series(std::ostringstream& o, const std::vector<std::pair<double, double>>& pts, const char* color,
              bool dash) const {
    if (pts.empty()) return;
    o << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"2\"" << (dash ? " stroke-dasharray=\"6 4\"" : "")
      << " points=\"";
    for (const auto& [x, y] : pts) o << F("%.1f,%.1f ", X(x), Y(y));
    o << "\"/>\n";
    for (const auto& [x, y] : pts) o << F("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", X(x), Y(y), color);
  }

 private:
  double x0_, y0_, w_, h_, xmax_, ymin_, ymax_;
  bool log_y_;
};

// The delivery lag is only known to about one sampling interval (50 ms).
constexpr double kLagResolutionMs = 50;

// The latency a shipper's steps are charted with: ACK latency if it has one,
// else the delivery lag (drawn at its resolution when below it).
double LatencyP50(const StepResult& s) { return s.has_ack ? s.ack_p50_ms : std::max(kLagResolutionMs, s.lag_p50_ms); }
double LatencyP99(const StepResult& s) { return s.has_ack ? s.ack_p99_ms : std::max(kLagResolutionMs, s.lag_p99_ms); }

// Lags below the resolution of the count sampling show as "<50".
std::string Lag(double ms) { return ms < kLagResolutionMs ? F("<%.0f", kLagResolutionMs) : F("%.0f", ms); }

// The largest VmHWM over a shipper's instances (calibration and steps).
double PeakRss(const ShipperRun& r) {
  double peak = 0;
  for (const auto& s : r.steps) peak = std::max(peak, s.peak_rss_mib);
  return peak;
}

std::string StepRow(const StepResult& s) {
  std::string ack = s.has_ack ? F("%.1f / %.1f / %.1f", s.ack_p50_ms, s.ack_p99_ms, s.ack_p999_ms) : "— (no ACK)";
  std::string queue = s.queue_bytes_max < 0 ? "—" : Mib(s.queue_bytes_max);
  return F("| %s | %s | %s | %.2f | %s | %s / %s / %s | %.2f | %.2f | %s | %.1f | %s |%s\n",
           s.calibration ? "unpaced" : Short(s.offered_eps).c_str(), Short(s.sent_eps).c_str(),
           Short(s.achieved_eps).c_str(), s.achieved_bytes_per_s / 1e6, ack.c_str(), Lag(s.lag_p50_ms).c_str(),
           Lag(s.lag_p99_ms).c_str(), Lag(s.lag_p999_ms).c_str(), s.cores_used, s.cpu_s_per_million, Short(s.events_per_cpu_s).c_str(), s.rss_max_mib,
           queue.c_str(), s.errors || !s.drained ? F(" %s%s", s.errors ? "send errors" : "", s.drained ? "" : " not drained").c_str() : "");
}

void JsonStep(std::ostringstream& o, const StepResult& s) {
  o << "{\"calibration\":" << (s.calibration ? "true" : "false") << ",\"offered_eps\":" << s.offered_eps
    << ",\"seconds\":" << s.seconds << ",\"sent\":" << s.sent << ",\"delivered\":" << s.delivered
    << ",\"window_seconds\":" << s.window_seconds << ",\"window_delivered\":" << s.window_delivered
    << ",\"sent_eps\":" << s.sent_eps << ",\"achieved_eps\":" << s.achieved_eps
    << ",\"achieved_bytes_per_s\":" << s.achieved_bytes_per_s << ",\"wire_bytes_per_s\":" << s.wire_bytes_per_s
    << ",\"has_ack\":" << (s.has_ack ? "true" : "false") << ",\"ack_ms\":{\"p50\":" << s.ack_p50_ms
    << ",\"p99\":" << s.ack_p99_ms << ",\"p999\":" << s.ack_p999_ms << "},\"lag_ms\":{\"p50\":" << s.lag_p50_ms
    << ",\"p99\":" << s.lag_p99_ms << ",\"p999\":" << s.lag_p999_ms << "},\"cpu_seconds\":" << s.cpu_seconds
    << ",\"cpu_s_per_million\":" << s.cpu_s_per_million << ",\"events_per_cpu_s\":" << s.events_per_cpu_s
    << ",\"cores_used\":" << s.cores_used << ",\"driver_cores\":" << s.driver_cores
    << ",\"endpoint_cores\":" << s.endpoint_cores << ",\"rss_max_mib\":" << s.rss_max_mib
    << ",\"peak_rss_mib\":" << s.peak_rss_mib << ",\"queue_bytes_max\":" << s.queue_bytes_max
    << ",\"errors\":" << s.errors << ",\"drained\":" << (s.drained ? "true" : "false") << "}";
}

}  // namespace

const StepResult* ShipperRun::Saturation() const {
  const StepResult* best = nullptr;
  for (const auto& s : steps) {
    if (!best || s.achieved_eps > best->achieved_eps) best = &s;
  }
  return best;
}

std::vector<const StepResult*> ShipperRun::Paced() const {
  std::vector<const StepResult*> out;
  for (const auto& s : steps) {
    if (!s.calibration) out.push_back(&s);
  }
  return out;
}

Sizing ComputeSizing(const ShipperRun& run, double target_eps, double headroom) {
  Sizing z;
  z.target_eps = target_eps;
  z.headroom = headroom;
  const StepResult* sat = run.Saturation();
  const auto paced = run.Paced();
  if (!sat || sat->events_per_cpu_s <= 0) return z;
  z.events_per_cpu_s = sat->events_per_cpu_s;
  z.cores_exact = target_eps / (z.events_per_cpu_s * (1 - headroom));
  z.cores = std::max(1, static_cast<int>(std::ceil(z.cores_exact - 1e-9)));
  // Memory while keeping up: from the lowest step to the busiest step that
  // still delivered what was offered (past saturation the bounded queues
  // fill, which is the overload figure below, not a per-core cost).
  const StepResult* low = paced.empty() ? sat : paced.front();
  const StepResult* kept = low;
  for (const StepResult* st : paced) {
    if (st->achieved_eps >= 0.9 * st->offered_eps && st->cores_used > kept->cores_used) kept = st;
  }
  z.idle_rss_mib = low->rss_max_mib;
  z.kept_up_rss_mib = kept->rss_max_mib;
  z.kept_up_cores = kept->cores_used;
  z.kept_up_eps = kept->achieved_eps;
  const double busier = kept->cores_used - low->cores_used;
  z.rss_per_core_mib = busier >= 0.1 ? std::max(0.0, kept->rss_max_mib - low->rss_max_mib) / busier : 0;
  z.busy_cores_at_target = target_eps / z.events_per_cpu_s;
  z.steady_mib = (z.idle_rss_mib + z.rss_per_core_mib * z.busy_cores_at_target) / (1 - headroom);
  z.run_peak_rss_mib = PeakRss(run);
  z.memory_mib = static_cast<int>(std::ceil(std::max(z.steady_mib, z.run_peak_rss_mib) / 16) * 16);
  z.queue_capacity_mib = sat->queue_capacity_bytes / (1024.0 * 1024.0);
  return z;
}

std::string Sizing::Explain() const {
  std::ostringstream o;
  o << F("- CPU: at saturation sluice handled **%s events per CPU-second** (its own user+system CPU, from "
         "/proc). %s events/s ÷ (%s × (1 − %.0f%% headroom)) = %.2f → **%d core%s**.\n",
         Short(events_per_cpu_s).c_str(), Short(target_eps).c_str(), Short(events_per_cpu_s).c_str(), headroom * 100,
         cores_exact, cores, cores > 1 ? "s" : "");
  o << F("- Memory while keeping up: RSS %.1f MiB at the lowest step (the base) and %.1f MiB at %s events/s "
         "with %.2f cores busy (the busiest step that still delivered what was offered), so %.1f MiB more per busy "
         "core; at the target %.2f cores are busy (%s ÷ %s): (%.1f + %.1f × %.2f) ÷ (1 − %.0f%%) = %.1f MiB.\n",
         idle_rss_mib, kept_up_rss_mib, Short(kept_up_eps).c_str(), kept_up_cores, rss_per_core_mib,
         busy_cores_at_target, Short(target_eps).c_str(), Short(events_per_cpu_s).c_str(), idle_rss_mib,
         rss_per_core_mib, busy_cores_at_target, headroom * 100, steady_mib);
  o << F("- Memory under overload: the highest RSS of the run (VmHWM, the unpaced step and the steps past "
         "saturation included, when the bounded queues fill) was %.1f MiB. The recommendation is the larger of the "
         "two, rounded up to 16 MiB: **%d MiB**.\n",
         run_peak_rss_mib, memory_mib);
  if (queue_capacity_mib > 0) {
    o << F("- The queues are bounded (the `sluice_queue_max_bytes` gauges add up to %.0f MiB; the persisted "
           "queue's bound is on disk). They stay near empty while the output keeps up; with the memory queue, if "
           "memory must also absorb an Elasticsearch outage, add that bound.\n",
           queue_capacity_mib);
  }
  o << "- Assumes the events per CPU-second measured here hold on more cores (the pipeline runs one worker per "
       "core), for the same event mix, rule set and queue type; how far one instance scales past this box's cores "
       "is not measured here.\n";
  return o.str();
}

std::string MarkdownReport(const Scenario& s, const RunInfo& info, const std::vector<ShipperRun>& runs,
                           const Sizing* sizing, const std::string& svg_file) {
  std::ostringstream o;
  o << "# Capacity: " << s.name << "\n\n";
  if (!s.description.empty()) o << s.description << "\n\n";
  o << "Generated by `" << info.command << "` on " << info.date << ".\n\n";
  o << "- Machine: " << info.machine << "\n";
  for (const auto& r : runs) o << "- " << r.name << ": " << r.version << "\n";
  o << "- Traffic: " << ProtocolName(s.protocol);
  if (s.protocol == Protocol::kBeats) {
    o << F(" (windows of %d events, %d in flight, %s)", s.window, s.pipelining,
           s.compression ? F("zlib level %d", s.compression).c_str() : "plain");
  }
  o << F(", %d connection%s; events: %s", s.connections, s.connections > 1 ? "s" : "", SourceName(s.source));
  if (s.source == EventSource::kNdjson) o << " `" << s.file << "`";
  if (s.source == EventSource::kSimulator) {
    o << " (`sluice simulate --speed 0 --duration " << s.simulator_duration << " --seed " << s.simulator_seed
      << (s.simulator_scenario.empty() ? "" : " --scenario " + s.simulator_scenario) << "`)";
  }
  o << F(", %llu distinct, %.0f bytes on average, %.1f wire bytes per event\n",
         static_cast<unsigned long long>(info.distinct_events), info.event_bytes, info.wire_bytes_per_event);
  o << "- sluice: " << (s.rules.empty() ? "no rules" : "rules `" + s.rules + "`") << ", " << s.queue << " queue"
    << (s.queue == "persisted" ? " (sync: " + s.sync + ")" : "") << ", elasticsearch output to `sluice-es-emulator --fast`"
    << (s.workers ? F(", %d pipeline workers", s.workers) : "") << "\n";
  o << F("- Steps: %.0f s each, then up to %.0f s for the endpoint to catch up", s.step_seconds, s.drain_seconds);
  o << (s.rates.empty() ? F("; offered rates are fractions of the unpaced rate of a %.0f s calibration step",
                             s.calibrate_seconds)
                        : std::string("; offered rates from the scenario"))
    << "\n\n";

  const ShipperRun& main = runs.front();
  const StepResult* sat = main.Saturation();
  o << "## Result\n\n";
  if (sat) {
    o << F("- **Saturation: %s events/s** delivered at most (%s step), sluice using %.2f cores of this box "
           "(the load generator and the endpoint share it): **%s events per CPU-second** — the saturation point per "
           "core — %.2f CPU-seconds per million events, RSS %.1f MiB.\n",
           Short(sat->achieved_eps).c_str(), sat->calibration ? "unpaced" : (Short(sat->offered_eps) + "/s offered").c_str(),
           sat->cores_used, Short(sat->events_per_cpu_s).c_str(), sat->cpu_s_per_million, sat->rss_max_mib);
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    bool saturated = sat->calibration;
    for (const StepResult* st : main.Paced()) saturated = saturated || st->achieved_eps < 0.9 * st->offered_eps;
    if (!saturated) {
      o << "- No step saturated (each delivered what was offered): the figures above are at the highest rate "
           "offered, a lower bound of the saturation point.\n";
    } else if (sat->cores_used < 0.8 * cores) {
      double load[1] = {0};
      getloadavg(load, 1);
      o << F("- sluice was not the bottleneck: at its most it used %.2f of the box's %ld cores; in that step the "
             "sender took %.2f, the bulk endpoint %.2f, and other jobs the rest (load average %.1f at the end of the "
             "run). The events per CPU-second are sluice's own and are what the sizing uses.\n",
             sat->cores_used, cores, sat->driver_cores, sat->endpoint_cores, load[0]);
    }
    const auto paced = main.Paced();
    if (!paced.empty() && paced.back()->offered_eps > sat->achieved_eps * 1.05) {
      const StepResult& over = *paced.back();
      const bool all = over.drained && over.delivered >= over.sent;
      o << F("- Offered more than the box delivers (%s/s, %.1f× the saturation): sluice delivered %s/s, ",
             Short(over.offered_eps).c_str(), over.offered_eps / sat->achieved_eps, Short(over.achieved_eps).c_str());
      o << (over.has_ack ? F("ACK p99 %.1f ms (the ACKs slow the sender down, as they slow Filebeat)", over.ack_p99_ms)
                         : F("delivery lag p99 %.0f ms (TCP backpressure slows the sender down)", over.lag_p99_ms));
      o << (all ? ", every event sent was delivered" : ", NOT every event sent was delivered");
      o << F(", RSS %.1f MiB%s.\n", over.rss_max_mib,
             over.queue_bytes_max >= 0 ? F(", queues at most %s MiB", Mib(over.queue_bytes_max).c_str()).c_str() : "");
    }
  }
  if (main.has_rule_metrics) {
    uint64_t events = 0;
    for (const StepResult* st : main.Paced()) events += st->delivered;
    o << F("- Rules over the paced steps (%s events): %s matches (%.2f per event), of which %s older than the "
           "rule's window (counted in `sluice_rule_late_events_total`, no detector update); %.0f alerts firing at "
           "the end, rule state %.1f MiB.\n",
           Short(events).c_str(), Short(main.rule_matches).c_str(), events ? main.rule_matches / events : 0.0,
           Short(main.rule_late_events).c_str(), main.alerts_firing, main.rule_state_bytes / (1024.0 * 1024.0));
  }
  if (sizing && sizing->cores > 0) {
    o << F("- **Sizing: %s events/s %s: %d core%s, %d MiB.**\n\n", Short(sizing->target_eps).c_str(),
           s.rules.empty() ? "without rules" : "with this rule set", sizing->cores, sizing->cores > 1 ? "s" : "",
           sizing->memory_mib);
    o << "How the sizing is derived:\n\n" << sizing->Explain();
  }
  o << "\n![throughput and latency against offered load](" << svg_file << ")\n\n";

  for (const auto& r : runs) {
    o << "## Steps: " << r.name << "\n\n";
    o << "| offered ev/s | sent ev/s | achieved ev/s | achieved MB/s | ACK p50 / p99 / p999 ms | lag p50 / p99 / p999 ms "
         "| CPU cores | CPU s / M events | events / CPU-s | RSS max MiB | queue max MiB |\n";
    o << "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
    for (const auto& st : r.steps) o << StepRow(st);
    o << "\n";
  }

  if (runs.size() > 1) {
    const ShipperRun& other = runs[1];
    const StepResult* osat = other.Saturation();
    o << "## Side by side: " << main.name << " vs " << other.name << "\n\n";
    if (sat && osat) {
      o << "| | " << main.name << " | " << other.name << " | ratio |\n| --- | --- | --- | --- |\n";
      o << F("| most events/s delivered | %s | %s | %.2fx |\n", Short(sat->achieved_eps).c_str(),
             Short(osat->achieved_eps).c_str(), sat->achieved_eps / std::max(1.0, osat->achieved_eps));
      o << F("| events per CPU-second at saturation | %s | %s | %.2fx |\n", Short(sat->events_per_cpu_s).c_str(),
             Short(osat->events_per_cpu_s).c_str(), sat->events_per_cpu_s / std::max(1.0, osat->events_per_cpu_s));
      const double peak = PeakRss(main), opeak = PeakRss(other);
      o << F("| peak RSS (VmHWM) MiB | %.1f | %.1f | %.2fx |\n", peak, opeak, peak / std::max(0.1, opeak));
      const auto a = main.Paced(), b = other.Paced();
      for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
        if (a[i]->offered_eps != b[i]->offered_eps || b[i]->cpu_s_per_million <= 0) continue;
        o << F("| CPU s per M events at %s/s offered | %.2f | %.2f | %.2fx less |\n", Short(a[i]->offered_eps).c_str(),
               a[i]->cpu_s_per_million, b[i]->cpu_s_per_million,
               b[i]->cpu_s_per_million / std::max(1e-9, a[i]->cpu_s_per_million));
      }
      o << "\n";
    }
  }

  o << "## How it is measured\n\n"
       "- *offered*: the rate the sender is paced to (events spread evenly; Beats: a window when it is due, at "
       "most `pipelining` windows in flight, so a slow ACK slows the sender like it slows Filebeat). *sent* and "
       "*achieved*: events written to the socket and events delivered per second in the steady part of the step "
       "(from 1 s after its start until sending stops; the counts are sampled every 50 ms). Delivered means ACKed "
       "on the Beats path and indexed by the bulk endpoint on the syslog path (syslog has no acknowledgement).\n"
       "- *ACK*: time from writing a window to reading its full ACK (Beats only), for the windows ACKed while "
       "the sender was still sending: a window that does not fill a bulk request waits for the output's "
       "`flush_idle` (50 ms by default) without new events. *lag*: delivery lag from the counts — how "
       "long before the endpoint indexed its N-th document of the step the sender had written the N-th event "
       "(interpolated between samples; below one sampling interval it shows as <50), while the sender was sending.\n"
       "- *CPU*: user+system seconds of the shipper process alone (`/proc/PID/stat`) over the step including the "
       "catch-up; *events / CPU-s* = delivered ÷ that. *RSS max*: largest VmRSS sampled in the step. *queue max*: "
       "largest sum of the `sluice_queue_bytes` gauges scraped from `/metrics` every 250 ms.\n"
       "- One box: sluice, the load generator and the endpoint share its cores, so the absolute events/s is the "
       "box's, and the per-CPU-second figure is the one that carries over to other machines.\n";
  return o.str();
}

std::string SvgChart(const Scenario& s, const std::vector<ShipperRun>& runs) {
  const double W = 960, H = 420 + 20 * runs.size();
  double xmax = 0, ymax = 0, lat_min = 1e18, lat_max = 0;
  for (const auto& r : runs) {
    for (const StepResult* st : r.Paced()) {
      xmax = std::max(xmax, st->offered_eps);
      ymax = std::max({ymax, st->achieved_eps, st->offered_eps});
      for (double v : {LatencyP50(*st), LatencyP99(*st)}) {
        if (v > 0) lat_min = std::min(lat_min, v), lat_max = std::max(lat_max, v);
      }
    }
  }
  xmax = NiceCeil(xmax * 1.02);
  ymax = NiceCeil(ymax * 1.02);
  if (lat_max <= 0) lat_min = 1, lat_max = 10;
  const double lat_lo = std::pow(10, std::floor(std::log10(lat_min)));
  double lat_hi = std::pow(10, std::ceil(std::log10(lat_max)));
  if (lat_hi <= lat_lo) lat_hi = lat_lo * 10;

  std::ostringstream o;
  o << F("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
         "font-family=\"sans-serif\">\n",
         W, H, W, H);
  o << F("<rect width=\"%.0f\" height=\"%.0f\" fill=\"white\"/>\n", W, H);
  o << "<text x=\"20\" y=\"24\" font-size=\"16\" font-weight=\"bold\">" << XmlEscape("Capacity: " + s.name)
    << "</text>\n";
  Panel thr(90, 70, 360, 270, xmax, 0, ymax, false);
  Panel lat(570, 70, 360, 270, xmax, lat_lo, lat_hi, true);
  thr.Frame(o, "Throughput", "offered events/s", "achieved events/s");
  lat.Frame(o, "Latency (log scale)", "offered events/s", "ms");
  thr.Series(o, {{0, 0}, {std::min(xmax, ymax), std::min(xmax, ymax)}}, "#aaa", true);

  // Legend: the diagonal, then a row per shipper.
  auto legend = [&](double x, double y, const std::string& text, const char* color, bool dash) {
    o << F("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"%s/>\n", x, y - 4,
           x + 24, y - 4, color, dash ? " stroke-dasharray=\"6 4\"" : "");
    o << F("<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">", x + 30, y) << XmlEscape(text) << "</text>\n";
  };
  legend(90, 402, "offered = achieved", "#aaa", true);
  for (size_t i = 0; i < runs.size(); ++i) {
    const char* color = kColors[i % 4];
    std::vector<std::pair<double, double>> achieved, p50, p99;
    for (const StepResult* st : runs[i].Paced()) {
      achieved.push_back({st->offered_eps, st->achieved_eps});
      p50.push_back({st->offered_eps, LatencyP50(*st)});
      p99.push_back({st->offered_eps, LatencyP99(*st)});
    }
    thr.Series(o, achieved, color, false);
    lat.Series(o, p50, color, false);
    lat.Series(o, p99, color, true);
    const bool ack = !runs[i].steps.empty() && runs[i].steps.front().has_ack;
    const double y = 422 + 20 * i;
    legend(90, y, runs[i].name + " achieved", color, false);
    legend(570, y, runs[i].name + (ack ? " ACK latency" : " delivery lag") + ": p50 solid, p99 dashed", color, true);
  }
  o << "</svg>\n";
  return o.str();
}

std::string JsonReport(const Scenario& s, const RunInfo& info, const std::vector<ShipperRun>& runs, const Sizing* sizing) {
  std::ostringstream o;
  o.precision(12);
  o << "{\"scenario\":\"" << s.name << "\",\"protocol\":\"" << ProtocolName(s.protocol) << "\",\"event_bytes\":"
    << info.event_bytes << ",\"distinct_events\":" << info.distinct_events << ",\"runs\":[";
  for (size_t i = 0; i < runs.size(); ++i) {
    o << (i ? "," : "") << "{\"shipper\":\"" << runs[i].name << "\",";
    if (runs[i].has_rule_metrics) {
      o << "\"rules\":{\"matches\":" << runs[i].rule_matches << ",\"late_events\":" << runs[i].rule_late_events
        << ",\"alerts_firing\":" << runs[i].alerts_firing << ",\"state_bytes\":" << runs[i].rule_state_bytes << "},";
    }
    o << "\"steps\":[";
    for (size_t j = 0; j < runs[i].steps.size(); ++j) {
      if (j) o << ",";
      JsonStep(o, runs[i].steps[j]);
    }
    o << "]}";
  }
  o << "]";
  if (sizing && sizing->cores > 0) {
    o << ",\"sizing\":{\"target_eps\":" << sizing->target_eps << ",\"headroom\":" << sizing->headroom
      << ",\"events_per_cpu_s\":" << sizing->events_per_cpu_s << ",\"cores\":" << sizing->cores
      << ",\"memory_mib\":" << sizing->memory_mib << "}";
  }
  o << "}\n";
  return o.str();
}

}  // namespace sluice::bench::capacity
