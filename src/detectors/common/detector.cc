#include "detectors/common/detector.h"

#include <chrono>
#include <thread>

#include "common/strings.h"
#include "pipeline/component.h"

namespace sluice::detectors {

std::string Detector::GroupBlob(const Batch& batch, uint32_t event) const {
  std::string blob;
  for (size_t i = 0; i < spec_->group_fields.size(); ++i) {
    if (i) blob.push_back('\0');
    blob += FieldText(batch, batch.field(event, static_cast<size_t>(spec_->group_fields[i])));
  }
  return blob;
}

void Detector::SetGroupLabels(const Batch& batch, uint32_t event, CompactString* labels) const {
  if (spec_->group_fields.size() == 1) {
    const FieldValue& v = batch.field(event, static_cast<size_t>(spec_->group_fields[0]));
    const std::string_view s = batch.View(v.span);
    // As FieldText: a string's bytes when it holds no backslash, a number's or composite's bytes.
    if (v.kind == FieldKind::kNumber || v.kind == FieldKind::kComposite ||
        (v.kind == FieldKind::kString && s.find('\\') == std::string_view::npos)) {
      *labels = s;
      return;
    }
  }
  *labels = GroupBlob(batch, event);
}

void ShardMutex::LockSlow() {
  for (int spins = 0;; ++spins) {
    if (!taken_.load(std::memory_order_relaxed) && !taken_.exchange(true, std::memory_order_acquire)) return;
    if (spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else if (spins < 64 + 64) {
      std::this_thread::yield();
    } else {
      // A long hold (a Tick or a snapshot walking a large table: ~150 ms for
      // 38 MB of state): sleep rather than yield in a loop, which keeps the
      // core busy when nothing else wants it.
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
}

void Detector::ApplyShards(const std::vector<Update>* lists, const Batch& batch,
                           std::vector<SampleCandidate>* samples) {
  for (size_t s = 0; s < kShards; ++s) {
    if (!lists[s].empty()) Apply(s, lists[s].data(), lists[s].size(), batch, samples);
  }
}

Labels Detector::GroupLabels(std::string_view blob) const {
  Labels out;
  size_t pos = 0;
  for (size_t i = 0; i < spec_->group_label_names.size(); ++i) {
    size_t end = blob.find('\0', pos);
    if (end == std::string::npos) end = blob.size();
    out.emplace_back(spec_->group_label_names[i], std::string(blob.substr(std::min(pos, blob.size()), end - std::min(pos, end))));
    pos = end + 1;
  }
  return out;
}

WindowLayout MakeLayout(int64_t window_ms, int64_t lateness_ms, int slots) {
  // Up to 8 buckets per window; fewer when the lateness would not fit.
  WindowLayout l;
  for (int k = std::min(8, slots - 2); k >= 1; --k) {
    int64_t b = std::max<int64_t>(1, window_ms / k);
    int64_t late_buckets = (lateness_ms + b - 1) / b;
    if (k + late_buckets + 1 <= slots) {
      l.k = k;
      l.bucket_ms = b;
      l.lateness_ms = lateness_ms;
      return l;
    }
  }
  l.k = 1;
  l.bucket_ms = std::max<int64_t>(1, window_ms);
  l.lateness_ms = l.bucket_ms * (slots - 2);
  return l;
}

DetectorRegistry& DetectorRegistry::Get() {
  static DetectorRegistry* r = new DetectorRegistry();
  return *r;
}

bool DetectorRegistry::Register(std::string type, DetectorFactory f) {
  return factories_.emplace(std::move(type), std::move(f)).second;
}

const DetectorFactory* DetectorRegistry::Find(const std::string& type) const {
  auto it = factories_.find(type);
  return it == factories_.end() ? nullptr : &it->second;
}

std::vector<std::string> DetectorRegistry::Names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : factories_) out.push_back(k);
  return out;
}

int64_t RequiredDurationMs(ConfigMap& cfg, std::string_view key, int64_t min_ms) {
  if (!cfg.Has(key)) {
    cfg.Error(key, "required parameter is missing (a duration such as 5m)");
    cfg.DurationMs(key, 0);
    return 0;
  }
  return cfg.DurationMs(key, 0, min_ms);
}

int OptionalField(ConfigMap& cfg, std::string_view key, FieldRegistry* fields) {
  if (!cfg.Has(key)) {
    cfg.String(key);
    return -1;
  }
  std::string path = cfg.String(key);
  if (path.empty()) {
    cfg.Error(key, "expected a field path");
    return -1;
  }
  return fields->Register(path);
}

}  // namespace sluice::detectors
