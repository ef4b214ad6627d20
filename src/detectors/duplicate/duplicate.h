#pragma once
// type: duplicate — the same work requested again while it is (or was just)
// being done: two calculation requests are the same when their `fingerprint`
// fields are equal (model hash and parameters, say).
//
//   fingerprint: [model.sha256, calc.params]   fields that make requests equivalent
//   window: 10m         how long a request counts (from the first one of its fingerprint)
//   max_repeats: 1      fires when one fingerprint is seen more than this within the window
//
// Every matching request is counted, whether or not its calculation has
// finished: a request repeated while the first is still in progress is waste
// too. The alert's value is the highest repeat count in the group; its
// evidence carries `wasted_calculations` (requests beyond the first, summed
// over the group's offending fingerprints) and the number of fingerprints.
// State is per fingerprint: a 32-byte slot (windows under ~49 days; longer
// ones 40 bytes in an absl map) plus its group's labels once per shard,
// forgotten a window after its last request.

#include "detectors/common/detector.h"

namespace sluice::detectors {

std::unique_ptr<Detector> NewDuplicateDetector(ConfigMap& cfg, const RuleSpec* spec, const DetectorEnv& env);
// Whether detectors made afterwards look up a block of updates' fingerprints
// before applying them (on by default) or each update's when it is applied
// (tests only).
void SetDuplicateBlocksForTest(bool on);
// Whether detectors made afterwards keep windows under
// FingerprintSlots::kMaxWindowMs in FingerprintSlots (on by default) or in
// the GroupTable longer windows use (tests: the reference).
void SetDuplicateSlotsForTest(bool on);

}  // namespace sluice::detectors
