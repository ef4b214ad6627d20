// AlertTracker::SaveState / LoadState (issue 6): the pending and firing alerts.
#include "detectors/common/alert_tracker.h"

namespace sluice::detectors {
namespace {

void SaveLabels(StateWriter& w, const Labels& l) {
  w.U32(static_cast<uint32_t>(l.size()));
  for (const auto& [k, v] : l) {
    w.Str(k);
    w.Str(v);
  }
}

bool LoadLabels(StateReader& r, Labels* l) {
  uint32_t n;
  if (!r.U32(&n) || n > r.left() / 8) return r.Fail();
  l->resize(n);
  for (auto& [k, v] : *l) {
    if (!r.Str(&k) || !r.Str(&v)) return false;
  }
  return true;
}

}  // namespace

void AlertTracker::SaveState(StateWriter& w) const {
  w.U32(static_cast<uint32_t>(alerts_.size()));
  for (const auto& [group, e] : alerts_) {
    const Alert& a = e.alert;
    w.U64(group);
    w.U8(static_cast<uint8_t>(a.state));
    w.I64(a.active_at_ms);
    w.I64(a.starts_at_ms);
    w.F64(a.value);
    w.F64(a.threshold);
    w.U64(a.fingerprint);
    SaveLabels(w, a.labels);
    SaveLabels(w, a.annotations);
    SaveLabels(w, a.evidence);
    w.U32(static_cast<uint32_t>(a.samples.size()));
    for (const std::string& s : a.samples) w.Str(s);
  }
}

bool AlertTracker::LoadState(StateReader& r) {
  uint32_t n;
  if (!r.U32(&n) || n > r.left() / 8) return false;
  absl::flat_hash_map<uint64_t, Entry> loaded;
  for (uint32_t i = 0; i < n; ++i) {
    Entry e;
    Alert& a = e.alert;
    uint64_t group;
    uint8_t state;
    uint32_t samples;
    if (!r.U64(&group) || !r.U8(&state) || state > static_cast<uint8_t>(AlertState::kFiring) ||
        !r.I64(&a.active_at_ms) || !r.I64(&a.starts_at_ms) || !r.F64(&a.value) || !r.F64(&a.threshold) ||
        !r.U64(&a.fingerprint) || !LoadLabels(r, &a.labels) || !LoadLabels(r, &a.annotations) ||
        !LoadLabels(r, &a.evidence) || !r.U32(&samples) || samples > r.left() / 4) {
      return false;
    }
    a.samples.resize(samples);
    for (std::string& s : a.samples) {
      if (!r.Str(&s)) return false;
    }
    a.state = static_cast<AlertState>(state);
    a.group = group;
    a.rule_name = spec_->name;
    a.rule_file = spec_->file;
    a.rule_line = spec_->line;
    a.rule_hash = spec_->hash;
    loaded.emplace(group, std::move(e));
  }
  alerts_ = std::move(loaded);
  return true;
}

}  // namespace sluice::detectors
