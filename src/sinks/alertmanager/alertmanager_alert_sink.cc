#include "sinks/alertmanager/alertmanager_alert_sink.h"

#include "common/strings.h"

namespace sluice {

AlertmanagerAlert ToAlertmanagerAlert(const detectors::Alert& a) {
  AlertmanagerAlert out;
  for (const auto& [k, v] : a.labels) out.labels[k] = v;
  auto put = [&](const std::string& k, const std::string& v) { out.annotations.emplace(k, v); };
  for (const auto& [k, v] : a.annotations) out.annotations[k] = v;
  put("value", StrCat(a.value));
  put("threshold", StrCat(a.threshold));
  put("rule_file", StrCat(a.rule_file, ":", a.rule_line));
  put("rule_hash", a.rule_hash);
  for (const auto& [k, v] : a.evidence) put(k, v);
  if (!a.samples.empty()) put("sample_event", a.samples.front());
  out.starts_at_ms = a.starts_at_ms;
  out.resolved = a.state == detectors::AlertState::kResolved;
  out.resolved_at_ms = a.ends_at_ms;
  return out;
}

void AlertmanagerAlertSink::Emit(const detectors::Alert& alert) {
  if (alert.state == detectors::AlertState::kPending) return;
  notifier_->Update(ToAlertmanagerAlert(alert));
}

}  // namespace sluice
