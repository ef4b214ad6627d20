#pragma once
// type: flow — follows each business object (an order) through ordered
// stages and alerts when one misses a stage's deadline or fails.
//
//   - name: OrderStuck
//     type: flow
//     key: order.id                 # the field naming the object followed
//     stages:                       # in order; an event matching a stage moves the order there
//       - name: created
//         match: {service.name: shop-db, event.action: order-created}
//       - name: published
//         match: {service.name: rabbitmq, event.action: published}
//         within: 30s               # deadline after the previous stage
//       ...
//     failed:                       # optional: stages that end a flow as failed
//       - name: calculation_failed
//         match: {event.action: calculation-failed}
//     retention: 1h                 # how long a missed or failed order stays tracked (alert firing)
//     max_flows: 1000000            # orders tracked; when full, the oldest is evicted ("unknown")
//     max_alerts: 1000              # missed/failed orders alerted at once (earliest deadlines first)
//
// `match:` is optional: by default the rule selects the events of any stage
// (a given `match:` further restricts them).
//
// Semantics (event time; evaluated at stream time minus the allowed lateness):
// * Any stage's event starts a flow. An order at stage i is overdue when the
//   evaluation time passes (time of stage i) + within(i+1).
// * Out of order: an event of an earlier stage than the furthest seen is
//   ignored; a later stage moves the flow there (skipped deadlines do not alert).
// * The last stage completes the flow. Its state is kept until the evaluation
//   time passes the completion (so events up to the allowed lateness late are
//   absorbed), then freed.
// * Alerts are per order: group labels <key> (order_id), stage (the last stage
//   seen, or the failed stage), expected_stage and reason (missed_deadline |
//   failed). Value: seconds since the last stage; threshold: the deadline.
//   A missed-deadline alert resolves when the order reaches the expected stage
//   (late) — if it then misses the next deadline, that is a new alert — or
//   after `retention`, when the order is given up as lost and forgotten. A
//   failed alert resolves when the order progresses again (a retry) or after
//   `retention`.
// * Events older than the last evaluation for an order not tracked are late
//   (counted, ignored): they would otherwise start flows already overdue.
//
// Metrics (labels rule, and stage where given):
//   sluice_flow_stage_latency_seconds{rule,stage}  time from the previous stage seen to this one
//   sluice_flow_in_flight{rule,stage}              flows whose furthest stage is this one
//   sluice_flow_missed_deadlines_total{rule,stage} flows that missed the deadline to reach `stage`
//   sluice_flow_overdue{rule}                      flows overdue or failed, not yet given up
//   sluice_flow_outcomes_total{rule,outcome}       completed | failed | lost | unknown (evicted)
//   sluice_flow_events_without_key_total{rule}     stage events without the key field
// plus the engine's sluice_rule_evictions_total and sluice_rule_late_events_total.
//
// State: part of the engine's snapshot (rule_engine_state.cc, issue 6), loaded
// at start; stages are mapped by name, so editing a rule keeps the orders at the
// stages it still has. A blob that cannot be read is logged and ignored.
//
// Memory: 56 bytes per tracked order in the hash table (48-byte state with the
// key inline up to 36 bytes, plus the 8-byte hash) and one control byte;
// FlowTest.MemoryPerFlow measures the whole cost: 120.6 bytes per flow at
// 1M orders (115 MiB, the tables half full just after growing; keys over 36
// bytes cost one more heap string each).

#include "detectors/common/detector.h"

namespace sluice::detectors {

std::unique_ptr<Detector> NewFlowDetector(ConfigMap& cfg, const RuleSpec* spec, const DetectorEnv& env);

}  // namespace sluice::detectors
