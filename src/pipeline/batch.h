#pragma once
// A batch of events: one arena of raw bytes plus small records pointing into it.
//
// Inputs fill a batch (Append), the pipeline parses it once (fills the
// extracted fields and @metadata views), sinks read it. A batch is shared
// (BatchPtr) by every sink; each holder calls Release() once when it is done
// with it, and when the last hold is released the batch is "safe" and its
// on-safe callback runs (the input then ACKs the client). A batch is immutable
// once the pipeline has handed it to the sinks.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

// A range of bytes inside the batch arena.
struct Span {
  uint32_t off = 0;
  uint32_t len = 0;
  bool empty() const { return len == 0; }
};

// What a field extracted by the pipeline holds.
enum class FieldKind : uint8_t { kMissing = 0, kString, kNumber, kTrue, kFalse, kNull, kComposite };

// An extracted field value. For strings, `span` is the JSON-escaped content
// without the quotes; for numbers the number's text.
struct FieldValue {
  Span span;
  FieldKind kind = FieldKind::kMissing;
  // kString: the content has a backslash escape (checked once by the parser,
  // so that consumers need not scan it again: detectors_bench BM_ThirtyRulesObserve).
  bool escaped = false;
};

enum EventFlags : uint32_t {
  kEventInvalid = 1u << 0,      // not a JSON object: dead-lettered by the pipeline, skipped by sinks
  kEventHasTimestamp = 1u << 1, // timestamp_ms came from @timestamp
};

struct Event {
  uint32_t offset = 0;  // raw bytes (one JSON object) in the arena
  uint32_t length = 0;
  // The document sent downstream is the raw bytes without the @metadata member:
  // raw[0, cut_begin) + raw[cut_end, length). cut_begin == cut_end: nothing cut.
  uint32_t cut_begin = 0;
  uint32_t cut_end = 0;
  int64_t timestamp_ms = 0;  // @timestamp (event time), else the receive time
  uint32_t flags = 0;
  uint32_t error = 0;        // index into Batch::errors when kEventInvalid
  // @metadata fields (JSON-escaped string content).
  Span meta_id, meta_pipeline, meta_op_type, meta_index;
};

class Batch {
 public:
  Batch() = default;
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;
  ~Batch();

  // Appends one event's bytes. Returns its index.
  uint32_t Append(std::string_view bytes);
  // Appends bytes to the arena without an event (for rewritten events). Returns the span.
  Span AppendBytes(std::string_view bytes);

  std::string_view View(Span s) const { return std::string_view(arena_.data() + s.off, s.len); }
  std::string_view Raw(const Event& e) const { return std::string_view(arena_.data() + e.offset, e.length); }
  // The document without @metadata, as up to two pieces.
  std::string_view DocHead(const Event& e) const {
    return std::string_view(arena_.data() + e.offset, e.cut_begin == e.cut_end ? e.length : e.cut_begin);
  }
  std::string_view DocTail(const Event& e) const {
    if (e.cut_begin == e.cut_end) return {};
    return std::string_view(arena_.data() + e.offset + e.cut_end, e.length - e.cut_end);
  }
  size_t DocLength(const Event& e) const { return e.length - (e.cut_end - e.cut_begin); }

  std::vector<Event>& events() { return events_; }
  const std::vector<Event>& events() const { return events_; }
  size_t size() const { return events_.size(); }
  std::string& arena() { return arena_; }
  const std::string& arena() const { return arena_; }

  // Errors of invalid events (Event::error indexes this).
  uint32_t AddError(std::string message);
  const std::string& error(uint32_t i) const { return errors_[i]; }

  // Extracted fields: field_count() values per event, in FieldRegistry order.
  // `clear` false: the values are left as they are, and the caller clears
  // each event's (ClearFields) before it stores any (the parser, event by
  // event: the row's lines are written while in L1, where a memset of the
  // whole batch's values first wrote every line once, with its read for
  // ownership; with the 30-rule set's 12 fields, 295 KB per batch, that
  // memset was +151 samples per 8 M events, bench/run_rules_profile.sh).
  void ResizeFields(size_t field_count, bool clear = true);
  // Clears event `event`'s values, 32 bytes at a time: a few inline stores
  // where a memset call per event cost ~23 cycles (+45 samples per 8 M events
  // over the batch's memset). The last store may reach up to 31 bytes into
  // the next events' rows (each cleared again before it is written: the
  // parser goes in event order) or the allocation's padding.
  void ClearFields(size_t event) {
    char* p = reinterpret_cast<char*>(fields_.get() + event * field_count_);
    const size_t bytes = field_count_ * sizeof(FieldValue);
    for (size_t b = 0; b < bytes; b += kClearBytes) std::memset(p + b, 0, kClearBytes);
  }
  size_t field_count() const { return field_count_; }
  FieldValue& field(size_t event, size_t index) { return fields_[event * field_count_ + index]; }
  const FieldValue& field(size_t event, size_t index) const { return fields_[event * field_count_ + index]; }

  // Where the batch came from, for logs, DLQ entries and metrics.
  std::string source;  // component name
  std::string peer;    // remote address, if any
  int64_t received_ms = 0;
  // The events are JSON objects that sluice wrote itself (syslog's ECS
  // documents): valid, without @metadata, with timestamp_ms already set. The
  // pipeline then parses them only when some component needs extracted fields.
  bool trusted_json = false;
  // Made by sluice about itself (alert documents): delivered by the sinks but
  // not shown to the detectors.
  bool internal = false;
  // Sequence number in the persisted queue (0: not from it). The detectors'
  // snapshot records which records they observed (issue 6).
  uint64_t queue_seq = 0;
  // FieldRegistry::generation() + 1 of the registry the events were parsed
  // against (0: not parsed yet). Pipeline::Prepare parses on the input's
  // thread; a worker parses again only if fields were registered since.
  uint64_t parsed_generation = 0;
  // The observers (the rules engine) have seen it: Pipeline::Prepare shows a
  // batch to them on the input's thread, and the worker then does not again.
  bool observed = false;

  // Approximate memory held, for the byte-bounded queues.
  size_t MemoryBytes() const;

  // Delivery tracking. A new batch has one hold (its creator's).
  void SetOnSafe(std::function<void()> fn) { on_safe_ = std::move(fn); }
  // Takes the on-safe callback out of the batch (the persisted queue runs the
  // input's callback itself once the batch is on disk, and gives the batch a
  // new one that marks it delivered).
  std::function<void()> TakeOnSafe() { return std::exchange(on_safe_, nullptr); }
  void AddHolds(int n) { holds_.fetch_add(n, std::memory_order_relaxed); }
  // Drops one hold; the last one runs the on-safe callback.
  void Release();
  // True once every hold was released.
  bool safe() const { return holds_.load(std::memory_order_acquire) == 0; }

 private:
  std::string arena_;
  std::vector<Event> events_;
  std::vector<std::string> errors_;
  // field_count_ values per event, zeroed by ResizeFields (calloc/memset: see there)
  // or, for the parser, event by event (ClearFields).
  struct FreeDelete {
    void operator()(FieldValue* p) const { std::free(p); }
  };
  std::unique_ptr<FieldValue[], FreeDelete> fields_;
  static constexpr size_t kClearBytes = 32;
  // Values allocated past the last row, for ClearFields' last stores.
  static constexpr size_t kFieldPad = (kClearBytes + sizeof(FieldValue) - 1) / sizeof(FieldValue);
  size_t fields_capacity_ = 0;
  size_t field_count_ = 0;
  std::atomic<int> holds_{1};
  std::function<void()> on_safe_;
};

using BatchPtr = std::shared_ptr<Batch>;

// Where the heap was advised for transparent huge pages: [begin, end), empty
// if it was not (another allocator, or madvise refused).
struct HugePageHeap {
  uintptr_t begin = 0;
  uintptr_t end = 0;
  bool empty() const { return begin >= end; }
};

// Sets glibc's malloc up for batches. Call first thing in main, before any
// thread starts. Arenas of ~1 MB that live a few milliseconds are neither
// mmapped nor given back; `huge_bytes` of the main heap's free top are
// advised for transparent huge pages (see AdviseThreadHeapForHugePages).
HugePageHeap ConfigureAllocator(size_t huge_bytes = 48u << 20);

// Advises the calling thread's malloc heap (glibc gives each thread its own,
// a 64 MiB reservation that grows in place) for transparent huge pages: with
// THP in "madvise" mode (the distribution default) batch arenas (1.1 MB a
// Beats window), event records and parser buffers otherwise get 4 KiB pages,
// and on a VM a TLB miss walks two page tables (bench/RESULTS.md, 2026-11-21
// late: run_beats.sh +7-12%). Untouched memory stays virtual; RSS grows with use
// in steps of up to 2 MiB. Called at the start of the threads that allocate
// batches (the Beats input's) and parse and encode them (the pipeline's
// workers); the syslog input's threads keep 4 KiB pages. `huge_bytes` of the
// heap are made writable up front (see batch.cc). Empty if the heap is not
// where glibc puts a thread's heap (then nothing is advised).
HugePageHeap AdviseThreadHeapForHugePages(size_t huge_bytes = 48u << 20);

}  // namespace sluice
