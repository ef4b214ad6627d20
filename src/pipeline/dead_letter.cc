#include "pipeline/dead_letter.h"

#include <sys/file.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "common/strings.h"
#include "absl/strings/str_format.h"
#include "common/json_util.h"
#include "common/log.h"
#include "common/timeutil.h"

namespace sluice {
namespace fs = std::filesystem;

DeadLetterQueue::DeadLetterQueue(DeadLetterOptions opts, MetricsRegistry* metrics)
    : opts_(std::move(opts)), metrics_(metrics, "dead_letter", "dead_letter") {}

DeadLetterQueue::~DeadLetterQueue() {
  if (file_) std::fclose(file_);
}

absl::Status DeadLetterQueue::Open() {
  std::error_code ec;
  fs::create_directories(opts_.dir, ec);
  if (ec) return absl::InternalError(StrCat("cannot create dead-letter directory ", opts_.dir, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status DeadLetterQueue::RotateLocked() {
  if (file_) {
    std::fclose(file_);
    file_ = nullptr;
  }
  path_ = StrCat(opts_.dir, "/dlq-", absl::StrFormat("%013d", NowMs()), "-", seq_++, ".ndjson");
  file_ = std::fopen(path_.c_str(), "ae");
  if (!file_) return absl::InternalError(StrCat("cannot open dead-letter file ", path_));
  // Held while the file is being written, so `sluice dlq replay` leaves it alone.
  flock(fileno(file_), LOCK_EX | LOCK_NB);
  file_bytes_ = 0;
  EnforceTotalLocked();
  return absl::OkStatus();
}

void DeadLetterQueue::EnforceTotalLocked() {
  std::vector<std::pair<std::string, uint64_t>> files;
  std::error_code ec;
  uint64_t total = 0;
  for (const auto& de : fs::directory_iterator(opts_.dir, ec)) {
    if (!de.is_regular_file() || de.path().extension() != ".ndjson") continue;
    uint64_t sz = de.file_size(ec);
    files.emplace_back(de.path().string(), sz);
    total += sz;
  }
  std::sort(files.begin(), files.end());
  for (const auto& [p, sz] : files) {
    if (total <= opts_.max_total_bytes || p == path_) break;
    SLUICE_LOG_WARN("dead_letter", "dead-letter queue over ", opts_.max_total_bytes, " bytes: deleting ", p);
    fs::remove(p, ec);
    metrics_.Discarded("dlq_full")->Inc();
    total -= sz;
  }
}

absl::Status DeadLetterQueue::Write(std::string_view component, std::string_view reason, std::string_view original,
                                    std::string_view peer) {
  std::string line;
  line.reserve(original.size() + reason.size() + 128);
  line += "{\"@timestamp\":\"";
  AppendRfc3339Ms(NowMs(), &line);
  line += "\",\"component\":";
  AppendJsonString(component, &line);
  line += ",\"reason\":";
  AppendJsonString(reason, &line);
  if (!peer.empty()) {
    line += ",\"peer\":";
    AppendJsonString(peer, &line);
  }
  line += ",\"original\":";
  AppendJsonString(original, &line);
  line += "}\n";

  std::lock_guard<std::mutex> lock(mu_);
  if (!file_ || file_bytes_ + line.size() > opts_.max_file_bytes) {
    absl::Status s = RotateLocked();
    if (!s.ok()) {
      metrics_.Errors("write_failed")->Inc();
      return s;
    }
  }
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0) {
    metrics_.Errors("write_failed")->Inc();
    return absl::InternalError(StrCat("write to dead-letter file ", path_, " failed"));
  }
  file_bytes_ += line.size();
  ++written_;
  metrics_.received_events->Inc();
  metrics_.dead_lettered_events->Inc();
  return absl::OkStatus();
}

absl::Status DeadLetterQueue::Flush() {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_ && std::fflush(file_) != 0) return absl::InternalError("dead-letter flush failed");
  return absl::OkStatus();
}

uint64_t DeadLetterQueue::written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return written_;
}

}  // namespace sluice
