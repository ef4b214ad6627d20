#include "detectors/common/label_template.h"

#include <cmath>
#include <cstdio>

#include "common/strings.h"

namespace sluice::detectors {
namespace {
std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

std::optional<LabelTemplate> LabelTemplate::Parse(std::string_view text, std::string* error) {
  LabelTemplate t;
  size_t i = 0;
  while (i < text.size()) {
    size_t open = text.find("{{", i);
    if (open == std::string_view::npos) {
      t.parts_.push_back({Kind::kText, std::string(text.substr(i))});
      break;
    }
    if (open > i) t.parts_.push_back({Kind::kText, std::string(text.substr(i, open - i))});
    size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      *error = StrCat("unclosed \"{{\" in template \"", text, "\"");
      return std::nullopt;
    }
    std::string_view expr = Trim(text.substr(open + 2, close - open - 2));
    if (expr == "$value") {
      t.parts_.push_back({Kind::kValue, ""});
    } else if (expr == "$threshold" || expr == "$baseline") {
      t.parts_.push_back({Kind::kThreshold, ""});
    } else if (expr.rfind("$labels.", 0) == 0 && expr.size() > 8) {
      t.parts_.push_back({Kind::kLabel, std::string(expr.substr(8))});
    } else {
      *error = StrCat("unknown template expression \"{{ ", expr,
                      " }}\" (expected $labels.NAME, $value, $threshold or $baseline)");
      return std::nullopt;
    }
    i = close + 2;
  }
  return t;
}

std::string LabelTemplate::Render(const Labels& labels, double value, double threshold) const {
  std::string out;
  for (const Part& p : parts_) {
    switch (p.kind) {
      case Kind::kText:
        out += p.text;
        break;
      case Kind::kValue:
        out += FormatValue(value);
        break;
      case Kind::kThreshold:
        out += FormatValue(threshold);
        break;
      case Kind::kLabel:
        for (const auto& [k, v] : labels) {
          if (k == p.text) {
            out += v;
            break;
          }
        }
        break;
    }
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return StrCat(static_cast<int64_t>(v));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

}  // namespace sluice::detectors
