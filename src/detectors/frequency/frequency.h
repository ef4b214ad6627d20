#pragma once
// type: frequency — each group's event count over `window`, against that
// group's own learned baseline (an exponentially weighted mean of the same
// count, learned over `baseline`).
//
//   window: 5m         rate window (sliding, 8 buckets)
//   baseline: 1h       learning window (EWMA time constant)
//   spike_factor: 3    fires when count > 3 × baseline (and count >= min_count)
//   drop_factor: 0.2   fires when count < 0.2 × baseline (and baseline >= min_count),
//                      including a group that went completely silent
//   min_count: 5       ignores groups too small to judge (default 5)
//   warmup: 1h         no alerts for a group until it has been seen this long (default: baseline)
//
// The value is the count in the window; the threshold is factor × baseline.
// A silent group keeps firing `drop` until its baseline decays below min_count.

#include "detectors/common/detector.h"

namespace sluice::detectors {

std::unique_ptr<Detector> NewFrequencyDetector(ConfigMap& cfg, const RuleSpec* spec, const DetectorEnv& env);
// The most a group's 16-bit bucket counts before its counts move to a 32-bit
// ring (0..65535; 0: every group's counts are 32-bit from its first event, as
// before the narrow rings). For detectors made afterwards; tests only.
void SetFrequencyNarrowLimitForTest(uint32_t limit);

}  // namespace sluice::detectors
