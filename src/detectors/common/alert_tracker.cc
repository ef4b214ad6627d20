#include "detectors/common/alert_tracker.h"

#include <algorithm>

#include "common/hash.h"

namespace sluice::detectors {

std::string LabelName(std::string_view path) {
  std::string out(path);
  for (char& c : out) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) c = '_';
  }
  if (!out.empty() && out[0] >= '0' && out[0] <= '9') out.insert(out.begin(), '_');
  return out;
}

size_t AlertTracker::firing() const {
  size_t n = 0;
  for (const auto& [g, e] : alerts_) n += e.alert.state == AlertState::kFiring;
  return n;
}

void AlertTracker::Snapshot(std::vector<Alert>* out) const {
  for (const auto& [g, e] : alerts_) out->push_back(e.alert);
}

Alert AlertTracker::NewAlert(const GroupResult& r, int64_t eval_ms) const {
  Alert a;
  a.group = r.group;
  a.labels = r.labels;
  // The rule's labels may use the group labels and the value; rendered once,
  // so the alert's identity does not change while it is active.
  Labels rule_labels;
  for (const auto& [name, tmpl] : spec_->labels) rule_labels.emplace_back(name, tmpl.Render(r.labels, r.value, r.threshold));
  auto set = [&a](const std::string& k, const std::string& v) {
    for (auto& kv : a.labels) {
      if (kv.first == k) {
        kv.second = v;
        return;
      }
    }
    a.labels.emplace_back(k, v);
  };
  for (const auto& [k, v] : rule_labels) set(k, v);
  set("severity", spec_->severity);
  set("alertname", spec_->name);
  std::sort(a.labels.begin(), a.labels.end());
  uint64_t fp = 0;
  for (const auto& [k, v] : a.labels) fp = HashBytes(v, HashBytes(k, fp));
  a.fingerprint = fp;
  a.active_at_ms = a.starts_at_ms = eval_ms;
  a.rule_name = spec_->name;
  a.rule_file = spec_->file;
  a.rule_line = spec_->line;
  a.rule_hash = spec_->hash;
  return a;
}

void AlertTracker::Render(Alert* a) const {
  a->annotations.clear();
  for (const auto& [name, tmpl] : spec_->annotations) {
    a->annotations.emplace_back(name, tmpl.Render(a->labels, a->value, a->threshold));
  }
}

size_t AlertTracker::ResolveAll(int64_t eval_ms, AlertSink* sink) {
  size_t n = 0;
  for (auto& [g, e] : alerts_) {
    Alert& a = e.alert;
    if (a.state != AlertState::kFiring) continue;
    a.state = AlertState::kResolved;
    a.ends_at_ms = eval_ms;
    Render(&a);
    if (sink) sink->Emit(a);
    ++n;
  }
  changes_ += alerts_.size();
  alerts_.clear();
  return n;
}

void AlertTracker::Update(int64_t eval_ms, std::vector<GroupResult>& active, AlertSink* sink, const SampleFn& samples) {
  ++generation_;
  for (GroupResult& r : active) {
    auto it = alerts_.find(r.group);
    bool is_new = it == alerts_.end();
    if (is_new) it = alerts_.emplace(r.group, Entry{NewAlert(r, eval_ms), 0}).first;
    Entry& e = it->second;
    e.seen = generation_;
    Alert& a = e.alert;
    a.value = r.value;
    a.threshold = r.threshold;
    a.evidence = std::move(r.evidence);
    if (a.state == AlertState::kPending && eval_ms - a.active_at_ms >= spec_->for_ms) {
      a.state = AlertState::kFiring;
      a.starts_at_ms = eval_ms;
      if (samples) a.samples = samples(r.group);
      Render(&a);
      if (sink) sink->Emit(a);
      ++changes_;
    } else if (is_new) {
      Render(&a);
      if (sink) sink->Emit(a);  // pending
      ++changes_;
    }
  }
  for (auto it = alerts_.begin(); it != alerts_.end();) {
    Alert& a = it->second.alert;
    if (it->second.seen == generation_) {
      ++it;
      continue;
    }
    if (a.state == AlertState::kFiring) {
      a.state = AlertState::kResolved;
      a.ends_at_ms = eval_ms;
      Render(&a);
      if (sink) sink->Emit(a);
    }
    // A pending alert whose condition stopped holding is dropped, as in Prometheus.
    alerts_.erase(it++);
    ++changes_;
  }
}

}  // namespace sluice::detectors
