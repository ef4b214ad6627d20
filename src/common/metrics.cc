#include "common/metrics.h"

#include <algorithm>
#include <cmath>

#include "common/strings.h"
#include "absl/strings/str_format.h"

namespace sluice {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::Observe(double v) {
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(std::max(0.0, v) * 1e6), std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t acc = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    acc += counts_[i].load(std::memory_order_relaxed);
    out[i] = acc;
  }
  return out;
}

double Histogram::sum() const { return sum_micros_.load(std::memory_order_relaxed) / 1e6; }
uint64_t Histogram::count() const { return CumulativeCounts().back(); }

double Histogram::Quantile(double q) const {
  auto cum = CumulativeCounts();
  uint64_t total = cum.back();
  if (total == 0) return 0;
  double rank = q * total;
  for (size_t i = 0; i < cum.size(); ++i) {
    if (cum[i] >= rank) {
      if (i == bounds_.size()) return bounds_.empty() ? 0 : bounds_.back();
      double lo = i == 0 ? 0 : bounds_[i - 1];
      uint64_t below = i == 0 ? 0 : cum[i - 1];
      uint64_t in = cum[i] - below;
      double frac = in == 0 ? 1 : (rank - below) / in;
      return lo + (bounds_[i] - lo) * frac;
    }
  }
  return bounds_.back();
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

MetricsRegistry::Series* MetricsRegistry::FindOrCreate(std::string_view name, std::string_view help, Kind kind,
                                                       const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family* fam;
  auto it = by_name_.find(name);
  if (it == by_name_.end()) {
    auto f = std::make_unique<Family>();
    f->name = std::string(name);
    f->help = std::string(help);
    f->kind = kind;
    fam = f.get();
    by_name_[fam->name] = fam;
    families_.push_back(std::move(f));
  } else {
    fam = it->second;
  }
  for (auto& s : fam->series) {
    if (s->labels == labels) return s.get();
  }
  auto s = std::make_unique<Series>();
  s->labels = labels;
  fam->series.push_back(std::move(s));
  return fam->series.back().get();
}

Counter* MetricsRegistry::GetCounter(std::string_view name, std::string_view help, const Labels& labels) {
  Series* s = FindOrCreate(name, help, Kind::kCounter, labels);
  std::lock_guard<std::mutex> lock(mu_);
  if (!s->counter) s->counter = std::make_unique<Counter>();
  return s->counter.get();
}

Gauge* MetricsRegistry::GetGauge(std::string_view name, std::string_view help, const Labels& labels) {
  Series* s = FindOrCreate(name, help, Kind::kGauge, labels);
  std::lock_guard<std::mutex> lock(mu_);
  if (!s->gauge) s->gauge = std::make_unique<Gauge>();
  return s->gauge.get();
}

Histogram* MetricsRegistry::GetHistogram(std::string_view name, std::string_view help, const Labels& labels,
                                         std::vector<double> bounds) {
  Series* s = FindOrCreate(name, help, Kind::kHistogram, labels);
  std::lock_guard<std::mutex> lock(mu_);
  if (!s->histogram) s->histogram = std::make_unique<Histogram>(std::move(bounds));
  return s->histogram.get();
}

void MetricsRegistry::AddCallbackGauge(std::string_view name, std::string_view help, const Labels& labels,
                                       std::function<double()> fn) {
  Series* s = FindOrCreate(name, help, Kind::kCallback, labels);
  std::lock_guard<std::mutex> lock(mu_);
  s->callback = std::move(fn);
}

namespace {
std::string EscapeLabel(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}
std::string LabelText(const Labels& labels, std::string_view extra_key = "", std::string_view extra_val = "") {
  if (labels.empty() && extra_key.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    StrAppend(&out, first ? "" : ",", k, "=\"", EscapeLabel(v), "\"");
    first = false;
  }
  if (!extra_key.empty()) StrAppend(&out, first ? "" : ",", extra_key, "=\"", extra_val, "\"");
  out += "}";
  return out;
}
std::string Num(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return StrCat(static_cast<int64_t>(v));
  return absl::StrFormat("%.6g", v);
}
bool LabelsInclude(const Labels& have, const Labels& want) {
  for (const auto& w : want) {
    if (std::find(have.begin(), have.end(), w) == have.end()) return false;
  }
  return true;
}
}  // namespace

double MetricsRegistry::Value(std::string_view name, const Labels& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return 0;
  for (const auto& s : it->second->series) {
    if (s->labels != labels) continue;
    if (s->counter) return s->counter->value();
    if (s->gauge) return s->gauge->value();
    if (s->callback) return s->callback();
  }
  return 0;
}

double MetricsRegistry::Sum(std::string_view name, const Labels& match) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return 0;
  double sum = 0;
  for (const auto& s : it->second->series) {
    if (!LabelsInclude(s->labels, match)) continue;
    if (s->counter) sum += s->counter->value();
    else if (s->gauge) sum += s->gauge->value();
    else if (s->callback) sum += s->callback();
  }
  return sum;
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& f : families_) {
    const char* type = f->kind == Kind::kCounter ? "counter" : f->kind == Kind::kHistogram ? "histogram" : "gauge";
    StrAppend(&out, "# HELP ", f->name, " ", f->help, "\n# TYPE ", f->name, " ", type, "\n");
    for (const auto& s : f->series) {
      if (s->histogram) {
        auto cum = s->histogram->CumulativeCounts();
        const auto& b = s->histogram->bounds();
        for (size_t i = 0; i < b.size(); ++i) {
          StrAppend(&out, f->name, "_bucket", LabelText(s->labels, "le", Num(b[i])), " ", cum[i], "\n");
        }
        StrAppend(&out, f->name, "_bucket", LabelText(s->labels, "le", "+Inf"), " ", cum.back(), "\n");
        StrAppend(&out, f->name, "_sum", LabelText(s->labels), " ", Num(s->histogram->sum()), "\n");
        StrAppend(&out, f->name, "_count", LabelText(s->labels), " ", cum.back(), "\n");
        continue;
      }
      double v = s->counter ? s->counter->value() : s->gauge ? s->gauge->value() : s->callback ? s->callback() : 0;
      StrAppend(&out, f->name, LabelText(s->labels), " ", Num(v), "\n");
    }
  }
  return out;
}

ComponentMetrics::ComponentMetrics(MetricsRegistry* registry, std::string kind, std::string component)
    : registry_(registry), kind_(std::move(kind)), component_(std::move(component)) {
  Labels l = {{"component", component_}, {"kind", kind_}};
  received_events = registry_->GetCounter("sluice_component_received_events_total", "Events received by the component.", l);
  received_bytes = registry_->GetCounter("sluice_component_received_bytes_total", "Bytes received by the component.", l);
  sent_events = registry_->GetCounter("sluice_component_sent_events_total", "Events the component delivered downstream.", l);
  sent_bytes = registry_->GetCounter("sluice_component_sent_bytes_total", "Bytes the component delivered downstream.", l);
  retried_events = registry_->GetCounter("sluice_component_retried_events_total", "Events sent again after a retryable failure.", l);
  dead_lettered_events = registry_->GetCounter("sluice_component_dead_lettered_events_total", "Events written to the dead-letter queue.", l);
}

Counter* ComponentMetrics::Errors(std::string_view reason) {
  return registry_->GetCounter("sluice_component_errors_total", "Errors by reason.",
                               {{"component", component_}, {"kind", kind_}, {"reason", std::string(reason)}});
}

Counter* ComponentMetrics::Discarded(std::string_view reason) {
  return registry_->GetCounter("sluice_component_discarded_events_total", "Events discarded by an explicit policy, by reason.",
                               {{"component", component_}, {"kind", kind_}, {"reason", std::string(reason)}});
}

}  // namespace sluice
