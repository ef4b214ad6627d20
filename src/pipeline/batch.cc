#include "pipeline/batch.h"

namespace sluice {

Batch::~Batch() = default;

uint32_t Batch::Append(std::string_view bytes) {
  Event e;
  e.offset = static_cast<uint32_t>(arena_.size());
  e.length = static_cast<uint32_t>(bytes.size());
  arena_.append(bytes);
  events_.push_back(e);
  return static_cast<uint32_t>(events_.size() - 1);
}

Span Batch::AppendBytes(std::string_view bytes) {
  Span s{static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(bytes.size())};
  arena_.append(bytes);
  return s;
}

uint32_t Batch::AddError(std::string message) {
  errors_.push_back(std::move(message));
  return static_cast<uint32_t>(errors_.size() - 1);
}

void Batch::ResizeFields(size_t field_count) {
  field_count_ = field_count;
  fields_.assign(events_.size() * field_count, FieldValue{});
}

size_t Batch::MemoryBytes() const {
  return arena_.capacity() + events_.capacity() * sizeof(Event) + fields_.capacity() * sizeof(FieldValue) +
         sizeof(Batch);
}

void Batch::Release() {
  if (holds_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    if (on_safe_) {
      auto fn = std::move(on_safe_);
      fn();
    }
  }
}

}  // namespace sluice
