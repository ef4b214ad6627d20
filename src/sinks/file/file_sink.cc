#include "sinks/file/file_sink.h"

#include <filesystem>
#include <thread>

#include "common/strings.h"
#include "common/log.h"

namespace sluice {

FileSink::FileSink(FileSinkConfig cfg, MetricsRegistry* metrics)
    : cfg_(std::move(cfg)), metrics_(metrics, "file", cfg_.id) {}

FileSink::~FileSink() {
  if (file_) std::fclose(file_);
}

absl::Status FileSink::Start() {
  std::error_code ec;
  auto parent = std::filesystem::path(cfg_.path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  file_ = std::fopen(cfg_.path.c_str(), "ae");
  if (!file_) return absl::UnavailableError(StrCat("file output: cannot open ", cfg_.path));
  return absl::OkStatus();
}

void FileSink::Submit(BatchPtr batch) {
  size_t n = 0;
  size_t bytes = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    buf_.clear();
    for (const Event& e : batch->events()) {
      if (e.flags & kEventInvalid) continue;
      buf_.append(batch->DocHead(e));
      buf_.append(batch->DocTail(e));
      buf_.push_back('\n');
      ++n;
    }
    metrics_.received_events->Inc(n);
    // A failed write is retried until it succeeds: the batch is not released
    // (and so not ACKed) before its lines are in the file.
    for (int attempt = 0;; ++attempt) {
      if (std::fwrite(buf_.data(), 1, buf_.size(), file_) == buf_.size() && std::fflush(file_) == 0) break;
      metrics_.Errors("write_failed")->Inc();
      if (attempt % 100 == 0) SLUICE_LOG_ERROR(cfg_.id, "write to ", cfg_.path, " failed; retrying");
      std::clearerr(file_);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    bytes = buf_.size();
  }
  metrics_.sent_events->Inc(n);
  metrics_.sent_bytes->Inc(bytes);
  batch->Release();
}

void FileSink::Stop(int64_t) {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_) std::fflush(file_);
}

namespace {
std::unique_ptr<Sink> MakeFileSink(ConfigMap& cfg, ComponentContext& ctx) {
  FileSinkConfig c;
  c.id = ReadComponentId(cfg, "file");
  c.path = cfg.RequiredString("path");
  cfg.Finish();
  if (c.path.empty()) return nullptr;
  return std::make_unique<FileSink>(std::move(c), ctx.metrics);
}
}  // namespace

SLUICE_REGISTER_SINK("file", MakeFileSink);

}  // namespace sluice
