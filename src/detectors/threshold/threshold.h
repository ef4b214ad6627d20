#pragma once
// type: threshold — a count of matching events (or the sum / max / avg of a
// numeric field) over a sliding event-time window, per group, compared with
// `above` or `below`.
//
//   window: 5m          the sliding window (8 buckets of window/8)
//   above: 100          fires when the value is > above   (or below: fires when < below)
//   field: duration_ms  optional, with aggregate: sum | max | avg
//
// `below` notices silence: a group seen once stays tracked (up to the group
// cap), so when it stops sending its count falls to 0. A group is only judged
// by `below` once a whole window has passed since it was first seen; a rule
// without group_by has its single group from the start.

#include "detectors/common/detector.h"

namespace sluice::detectors {

enum class Aggregate : uint8_t { kCount, kSum, kMax, kAvg };

struct ThresholdParams {
  int64_t window_ms = 0;
  bool above = true;  // false: below
  double limit = 0;
  Aggregate aggregate = Aggregate::kCount;
  int field = -1;
};

std::unique_ptr<Detector> NewThresholdDetector(ConfigMap& cfg, const RuleSpec* spec, const DetectorEnv& env);
// Limits of the compact form of an aggregate group (`field`), for detectors
// made afterwards; tests only: the most a 16-bit bucket count holds (0..65535;
// 0: every group keeps the exact form it moves to past them, as before the
// compact groups) and the largest offset, in buckets, of its first_seen below
// its newest bucket (0..2^31-1).
void SetThresholdCompactLimitsForTest(uint32_t max_n, int32_t max_first);
// Whether sum and avg rules made afterwards apply a run of one group's updates
// in one bucket as one where that is exact (on by default; tests only).
void SetThresholdSumRunsForTest(bool on);

}  // namespace sluice::detectors
