#pragma once
// Feeds detector alerts to the Alertmanager notifier: firing and resolved
// state changes (pending alerts stay inside sluice, as in Prometheus). The
// evidence travels as annotations, so the email or chat message shows it:
// value, threshold, rule file:line and hash, detector facts, one sample event.
// A rule's own annotations win over these.

#include <memory>

#include "detectors/common/alert.h"
#include "sinks/alertmanager/alertmanager.h"

namespace sluice {

// The Alertmanager form of a detector alert.
AlertmanagerAlert ToAlertmanagerAlert(const detectors::Alert& a);

class AlertmanagerAlertSink : public detectors::AlertSink {
 public:
  explicit AlertmanagerAlertSink(AlertmanagerNotifier* notifier) : notifier_(notifier) {}
  void Emit(const detectors::Alert& alert) override;

 private:
  AlertmanagerNotifier* notifier_;
};

}  // namespace sluice
