#include "detectors/common/alert.h"

#include "common/json_util.h"
#include "common/strings.h"
#include "common/timeutil.h"
#include "detectors/common/label_template.h"

namespace sluice::detectors {

const char* AlertStateName(AlertState s) {
  switch (s) {
    case AlertState::kPending:
      return "pending";
    case AlertState::kFiring:
      return "firing";
    case AlertState::kResolved:
      return "resolved";
  }
  return "?";
}

std::string AlertToJson(const Alert& a) {
  std::string out = "{\"labels\":";
  AppendJsonStringMap(a.labels, &out);
  out += ",\"annotations\":";
  AppendJsonStringMap(a.annotations, &out);
  StrAppend(&out, ",\"state\":\"", AlertStateName(a.state), "\",\"activeAt\":\"");
  AppendRfc3339Ms(a.active_at_ms, &out);
  out += "\",\"startsAt\":\"";
  AppendRfc3339Ms(a.starts_at_ms, &out);
  out += "\"";
  if (a.ends_at_ms) {
    out += ",\"endsAt\":\"";
    AppendRfc3339Ms(a.ends_at_ms, &out);
    out += "\"";
  }
  StrAppend(&out, ",\"value\":", FormatValue(a.value), ",\"threshold\":", FormatValue(a.threshold), ",\"evidence\":");
  AppendJsonStringMap(a.evidence, &out);
  out += ",\"rule\":{\"name\":";
  AppendJsonString(a.rule_name, &out);
  out += ",\"file\":";
  AppendJsonString(a.rule_file, &out);
  StrAppend(&out, ",\"line\":", a.rule_line, ",\"hash\":\"", a.rule_hash, "\"},\"samples\":[");
  for (size_t i = 0; i < a.samples.size(); ++i) {
    if (i) out.push_back(',');
    AppendJsonString(a.samples[i], &out);
  }
  out += "]}";
  return out;
}

}  // namespace sluice::detectors
