#pragma once
// type: payload_size — a value far above what its group usually sees: an
// uploaded 3D model much larger than the customer's usual, a request body
// much larger than the endpoint's usual.
//
//   field: file.size   a numeric field; omitted: the event's own size in bytes
//   factor: 5          fires when value > median + factor × 1.4826 × MAD
//   min_samples: 50    no judgement before the group has this many values (default 30)
//   window: 5m         an outlier keeps the group's alert active this long (default 5m)
//
// Median and MAD (median absolute deviation) are tracked per group with a
// streaming estimator (a robust mean and mean deviation for the first values,
// then sign-step updates scaled by the MAD): 3 numbers per group, a few
// arithmetic operations per event, robust to the outliers it is looking for.
// The deviation used is at least 5% of the median, so a group of identical
// values does not fire on a tiny change.

#include "detectors/common/detector.h"

namespace sluice::detectors {

std::unique_ptr<Detector> NewPayloadSizeDetector(ConfigMap& cfg, const RuleSpec* spec, const DetectorEnv& env);

// The streaming median / MAD estimator (exposed for tests).
struct RobustStats {
  double median = 0, mad = 0;
  uint32_t n = 0;
  void Add(double x);
  // The smallest value counted as an outlier with `factor`.
  double Limit(double factor) const;
};

}  // namespace sluice::detectors
