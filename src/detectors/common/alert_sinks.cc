#include "detectors/common/alert_sinks.h"
#include "common/timeutil.h"
#include "common/json_util.h"

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

AlertDocumentSink::AlertDocumentSink(std::string index, BatchReceiver* receiver, MetricsRegistry* metrics,
                                     size_t max_pending)
    : index_(std::move(index)), receiver_(receiver), metrics_(metrics, "alerts", "alert_documents"),
      max_pending_(max_pending) {}

void AlertDocumentSink::Emit(const Alert& alert) {
  std::string json = AlertToJson(alert);
  std::string doc = "{\"@timestamp\":\"";
  AppendRfc3339Ms(NowMs(), &doc);
  doc += "\",\"@metadata\":{\"index\":";
  AppendJsonString(index_, &doc);
  doc += "},";
  doc.append(json, 1, std::string::npos);  // AlertToJson starts with '{'
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pending_.size() >= max_pending_) {
      pending_.erase(pending_.begin());
      metrics_.Discarded("alert_documents_full")->Inc();
    }
    pending_.push_back(std::move(doc));
    metrics_.received_events->Inc();
  }
  Flush();
}

void AlertDocumentSink::Flush() {
  std::lock_guard<std::mutex> lock(mu_);
  if (pending_.empty() || waiting_) return;
  auto batch = std::make_shared<Batch>();
  batch->source = "alerts";
  batch->internal = true;
  batch->received_ms = NowMs();
  for (const auto& d : pending_) batch->Append(d);
  const size_t n = pending_.size();
  if (receiver_->TryPush(batch, [this] {
        {
          std::lock_guard<std::mutex> l(mu_);
          waiting_ = false;
        }
        Flush();
      })) {
    pending_.clear();
    metrics_.sent_events->Inc(n);
  } else {
    waiting_ = true;
  }
}

}  // namespace sluice::detectors
