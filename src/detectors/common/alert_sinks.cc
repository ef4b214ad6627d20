#include "detectors/common/alert_sinks.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/log.h"
#include "common/strings.h"
#include "detectors/common/label_template.h"

namespace sluice::detectors {

void LogAlertSink::Emit(const Alert& a) {
  std::string labels;
  for (const auto& [k, v] : a.labels) {
    if (!labels.empty()) labels += ", ";
    StrAppend(&labels, k, "=\"", v, "\"");
  }
  std::string evidence;
  for (const auto& [k, v] : a.evidence) StrAppend(&evidence, " ", k, "=", v);
  LogLevel level = a.state == AlertState::kFiring ? LogLevel::kWarn : LogLevel::kInfo;
  Log(level, "alerts", AlertStateName(a.state), " {", labels, "} value=", FormatValue(a.value),
      " threshold=", FormatValue(a.threshold), evidence, " rule=", a.rule_file, ":", a.rule_line);
}

FileAlertSink::~FileAlertSink() {
  if (f_) std::fclose(f_);
}

absl::Status FileAlertSink::Open() {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
  f_ = std::fopen(path_.c_str(), "a");
  if (!f_) return absl::UnavailableError(StrCat("cannot open alerts file ", path_, ": ", std::strerror(errno)));
  return absl::OkStatus();
}

void FileAlertSink::Emit(const Alert& a) {
  std::string line = AlertToJson(a);
  line.push_back('\n');
  std::lock_guard<std::mutex> l(mu_);
  if (!f_) return;
  if (std::fwrite(line.data(), 1, line.size(), f_) != line.size() || std::fflush(f_) != 0) {
    SLUICE_LOG_ERROR("alerts", "write to ", path_, " failed: ", std::strerror(errno));
  }
}

}  // namespace sluice::detectors
