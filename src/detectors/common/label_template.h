#pragma once
// Label and annotation templates, Prometheus style:
//   "{{ $labels.service_name }} logs {{ $value }} errors (threshold {{ $threshold }})"
// Variables: $labels.NAME, $value, $threshold (alias $baseline). Parsed once
// when the rule is loaded; an unknown variable is a load error.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/metrics.h"

namespace sluice::detectors {

class LabelTemplate {
 public:
  // Returns nullopt and sets *error on a syntax error or an unknown variable.
  static std::optional<LabelTemplate> Parse(std::string_view text, std::string* error);

  std::string Render(const Labels& labels, double value, double threshold) const;
  bool is_constant() const { return parts_.size() <= 1 && (parts_.empty() || parts_[0].kind == Kind::kText); }

 private:
  enum class Kind { kText, kLabel, kValue, kThreshold };
  struct Part {
    Kind kind;
    std::string text;  // literal text or label name
  };
  std::vector<Part> parts_;
};

// Formats a value for humans: integers without a fraction, others with up to 4 significant decimals.
std::string FormatValue(double v);

}  // namespace sluice::detectors
