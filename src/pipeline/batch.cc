#include "pipeline/batch.h"

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <sstream>
#include <type_traits>

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

void Batch::ResizeFields(size_t field_count, bool clear) {
  field_count_ = field_count;
  // All zero bytes is FieldValue{} (kMissing, empty span), so the values are
  // cleared by calloc or memset: whole cache lines written at once into memory
  // the batch has not touched yet. Value-initializing them one by one
  // (vector's assign, then resize) was 2% of sluice's CPU samples with the
  // 30-rule set's 12 fields (2048 x 12 values, 295 KB per batch), its stores
  // waiting on lines fetched only to be overwritten (bench/run_rules_profile.sh).
  static_assert(std::is_trivially_copyable_v<FieldValue> && std::is_trivially_destructible_v<FieldValue> &&
                FieldKind::kMissing == FieldKind{});
  const size_t n = events_.size() * field_count;
  if (n > fields_capacity_) {
    fields_.reset();
    fields_capacity_ = 0;
    // A new batch's first parse (every Beats window): calloc cleared every
    // value with a memset (the +151 samples per 8 M events) unless not asked to.
    fields_.reset(static_cast<FieldValue*>(clear ? std::calloc(n + kFieldPad, sizeof(FieldValue))
                                                 : std::malloc((n + kFieldPad) * sizeof(FieldValue))));
    if (!fields_) throw std::bad_alloc();
    fields_capacity_ = n;
  } else if (n > 0 && clear) {
    std::memset(static_cast<void*>(fields_.get()), 0, n * sizeof(FieldValue));
  }
}

size_t Batch::MemoryBytes() const {
  return arena_.capacity() + events_.capacity() * sizeof(Event) + fields_capacity_ * sizeof(FieldValue) +
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

namespace {
constexpr uintptr_t kHugePage = 2u << 20;
// glibc's HEAP_MAX_SIZE on 64-bit targets: a thread arena's heap is a
// reservation of this size, aligned to it, its pages made writable as it grows.
constexpr uintptr_t kThreadHeapBytes = 64u << 20;

bool Advise(HugePageHeap* heap) {
  if (heap->empty() || madvise(reinterpret_cast<void*>(heap->begin), heap->end - heap->begin, MADV_HUGEPAGE) != 0) {
    *heap = {};
    return false;
  }
  return true;
}

// Whether [begin, end) lies wholly in anonymous mappings without a name (not
// the [heap], a stack or a file), by /proc/self/maps.
bool AnonymousMemory(uintptr_t begin, uintptr_t end) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  uintptr_t covered = 0;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::string perms, offset, dev, inode, name;
    if (!(in >> std::hex >> lo >> dash >> hi >> perms >> offset >> dev >> inode)) return false;
    in >> name;
    if (hi <= begin || lo >= end) continue;
    if (inode != "0" || !name.empty()) return false;
    covered += std::min(hi, end) - std::max(lo, begin);
  }
  return covered == end - begin;
}
}  // namespace

HugePageHeap ConfigureAllocator(size_t huge_bytes) {
  // Batch arenas are large, short-lived buffers: keep glibc from mapping and
  // unmapping them (and faulting their pages in) for every window.
  // bench/run_beats.sh: page-fault and munmap time was ~5% of sluice's CPU.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  // The main heap serves the main thread (and any thread glibc hands it):
  // grow it by huge_bytes (below the mmap threshold: from the heap itself),
  // advise that range, give it back (below the trim threshold: it stays the
  // heap's free top, untouched, not resident). A fault takes a huge page only
  // where the heap already spans the page's 2 MiB.
  if (huge_bytes < 2 * kHugePage || huge_bytes >= (64u << 20)) return {};
  void* block = std::malloc(huge_bytes);
  if (block == nullptr) return {};
  const auto lo = reinterpret_cast<uintptr_t>(block);
  const auto hi = lo + huge_bytes;
  HugePageHeap heap;
  // Only glibc's own heap, just below the program break (not a sanitizer's allocator).
  const auto brk = reinterpret_cast<uintptr_t>(sbrk(0));
  if (hi <= brk && brk - hi < kHugePage) {
    heap.begin = (lo + kHugePage - 1) & ~(kHugePage - 1);
    heap.end = hi & ~(kHugePage - 1);
    Advise(&heap);
  }
  std::free(block);
  return heap;
}

HugePageHeap AdviseThreadHeapForHugePages(size_t huge_bytes) {
  // From this thread's heap, which glibc creates at the thread's first malloc.
  std::unique_ptr<char, decltype(&std::free)> probe(static_cast<char*>(std::malloc(1)), &std::free);
  if (probe == nullptr) return {};
  HugePageHeap heap;
  heap.begin = reinterpret_cast<uintptr_t>(probe.get()) & ~(kThreadHeapBytes - 1);
  heap.end = heap.begin + kThreadHeapBytes;
  // The main heap ([heap]), or an allocator other than glibc's: leave it.
  if (huge_bytes >= kThreadHeapBytes || !AnonymousMemory(heap.begin, heap.end) || !Advise(&heap)) return {};
  // A fault takes a huge page only where the writable part of the heap
  // already spans the page's 2 MiB, and glibc makes it writable bit by bit as
  // the heap grows: make `huge_bytes` of it writable now (a block taken and
  // given back; below the trim threshold it stays the heap's free top,
  // untouched, not resident).
  void* volatile block = std::malloc(huge_bytes);  // volatile: the compiler may not drop the pair
  std::free(block);
  return heap;
}

}  // namespace sluice
