#include "pipeline/event_parser.h"

#include <algorithm>
#include <bit>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "common/strings.h"
#include "common/timeutil.h"

namespace sluice {
namespace od = simdjson::ondemand;

#define SLUICE_INLINE inline __attribute__((always_inline))

// Where the strings and brackets of the event ScanEvent reads are: per 64
// bytes of the event, four words whose bit i stands for byte i: a quote that
// opens or closes a string (not one escaped by a backslash, as stage 1 pairs
// them), an opening bracket outside strings, a closing one outside strings,
// a byte with bit 5 set (of brackets: '{' and '}'). Nothing past the event's
// end. The end of a string, or of a skipped composite, is then found from a
// few words, not by a byte loop whose branches depend on each string's length
// and each object's bytes (36% and 38% of BM_ParseBatch/0 with the byte
// loops). bits == nullptr (a backslash outside strings, or not built): loop
// over the bytes.
struct ScanQuotes {
  const char* base = nullptr;
  const uint64_t* bits = nullptr;  // bits[4 * w + k], k: 0 quotes, 1 opening, 2 closing, 3 bit 5
  size_t words = 0;
  bool may_escape = true;  // false: the event has no backslash at all
};

namespace {
const char* SkipWs(const char* p, const char* end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
  return p;
}
const char* SkipString(const char* p, const char* end) {
  // p at the opening quote.
  ++p;
  while (p < end) {
    if (*p == '\\') {
      p += 2;
      continue;
    }
    if (*p == '"') return p + 1;
    ++p;
  }
  return end;
}
const char* SkipValue(const char* p, const char* end) {
  p = SkipWs(p, end);
  if (p >= end) return end;
  if (*p == '"') return SkipString(p, end);
  if (*p == '{' || *p == '[') {
    int depth = 0;
    while (p < end) {
      char c = *p;
      if (c == '"') {
        p = SkipString(p, end);
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (--depth == 0) return p + 1;
      }
      ++p;
    }
    return end;
  }
  while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' && *p != '\t' && *p != '\r') ++p;
  return p;
}

Span SpanOf(const Batch& b, std::string_view v) {
  return Span{static_cast<uint32_t>(v.data() - b.arena().data()), static_cast<uint32_t>(v.size())};
}

bool IsJsonWs(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Where the @metadata member named `key` is kept in the event, or nullptr
// for a member sluice does not read.
Span* MetadataTarget(Event* e, std::string_view key) {
  if (key == "_id") return &e->meta_id;
  if (key == "pipeline") return &e->meta_pipeline;
  if (key == "op_type") return &e->meta_op_type;
  if (key == "index") return &e->meta_index;
  return nullptr;
}

// ParseBatchAtOnce runs stage 1 over this many bytes at a time, then walks
// their events while the bytes and their structural indexes (4 bytes per
// byte of capacity) are still in the core's L2 cache. One stage 1 over a
// whole 1.1 MB window was no cheaper end to end than one per event
// (run_beats.sh: its indexes alone outgrow L2), though 30% cheaper in
// micro_bench, whose batch stays in cache.
constexpr size_t kStage1WindowBytes = 128u << 10;
// Events larger than this are parsed event by event (the parser's capacity
// must hold the largest event).
constexpr size_t kMaxStage1EventBytes = 4u << 20;
constexpr int64_t kNoTimestamp = INT64_MIN;
// Events of one batch the scanner may leave to simdjson before the rest of
// the batch goes to simdjson without trying it.
constexpr int kScanMissesPerBatch = 4;

// raw_json_token() of a scalar may carry trailing whitespace; strings keep their quotes.
std::string_view TrimToken(std::string_view t) {
  while (!t.empty() && (t.back() == ' ' || t.back() == '\n' || t.back() == '\r' || t.back() == '\t')) t.remove_suffix(1);
  return t;
}

// Whether p[0, n) holds a backslash. p + n must lie inside a padded document
// (up to 15 bytes past it are read). String values are short: one or two
// 16-byte compares instead of a memchr call (memchr was 4.6% of BM_ParseBatch/1).
SLUICE_INLINE bool HasBackslash(const char* p, size_t n) {
#if defined(__SSE2__)
  const __m128i bs = _mm_set1_epi8('\\');
  for (size_t i = 0; i < n; i += 16) {
    unsigned m = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)), bs)));
    if (n - i < 16) m &= (1u << (n - i)) - 1;
    if (m != 0) return true;
  }
  return false;
#else
  return std::memchr(p, '\\', n) != nullptr;
#endif
}

// The first '"' or '\\' in [p, end), else end. Reads up to 15 bytes past
// end (inside the document's padding). Keys are short: one 16-byte compare
// nearly always (a byte loop was 6% of BM_ParseBatch/1, a memchr call more).
SLUICE_INLINE const char* FindQuoteOrBackslash(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i bs = _mm_set1_epi8('\\');
  for (; p < end; p += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const auto m = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bs))));
    if (m != 0) return std::min(p + std::countr_zero(m), end);
  }
  return end;
#else
  while (p < end && *p != '"' && *p != '\\') ++p;
  return p;
#endif
}

// The first min(n, 8) bytes of `p` as a word, zero past n. `padded`: 8 bytes
// may be read from p whatever n is.
SLUICE_INLINE uint64_t KeyHead(const char* p, size_t n, bool padded) {
  uint64_t head = 0;
  if constexpr (std::endian::native == std::endian::little) {
    if (padded) {
      std::memcpy(&head, p, 8);
      return n >= 8 ? head : n == 0 ? 0 : head & (~uint64_t{0} >> (64 - 8 * n));
    }
  }
  std::memcpy(&head, p, std::min<size_t>(n, 8));
  return head;
}
}  // namespace

const char* SkipJsonMember(const char* p, const char* end) {
  p = SkipString(p, end);
  p = SkipWs(p, end);
  if (p < end && *p == ':') ++p;
  return SkipValue(p, end);
}

EventParser::EventParser(const std::vector<std::string>& field_paths) : field_count_(field_paths.size()) {
  PathNode root;
#ifdef SIMDJSON_THREADS_ENABLED
  // iterate_many runs stage 1 of the next 128 KiB window on this thread when
  // the walk gets there, not on a look-ahead thread (the workers already use
  // every core).
  parser_.threaded = false;
#endif
  for (size_t i = 0; i < field_paths.size(); ++i) {
    std::vector<std::string> parts;
    std::string_view p = field_paths[i];
    for (size_t dot; (dot = p.find('.')) != std::string_view::npos; p.remove_prefix(dot + 1)) {
      parts.emplace_back(p.substr(0, dot));
    }
    parts.emplace_back(p);
    Insert(&root, parts, 0, static_cast<int>(i));
  }
  Flatten(root, true);
  memo_.resize(nodes_.size() * kMemoWidth);
}

uint32_t EventParser::Flatten(const PathNode& p, bool root) {
  const auto id = static_cast<uint32_t>(nodes_.size());
  nodes_.emplace_back();
  Node node;
  node.index = p.index;
  node.first_child = static_cast<uint32_t>(keys_.size());
  node.child_count = static_cast<uint32_t>(p.children.size());
  keys_.resize(keys_.size() + p.children.size());
  key_names_.resize(keys_.size());
  auto set_bit = [&](unsigned char c) { node.first_bytes[c >> 6] |= uint64_t{1} << (c & 63); };
  // Escaped keys are unescaped before the look-up; at the root, @metadata and
  // @timestamp are always read.
  set_bit('\\');
  if (root) set_bit('@');
  for (size_t k = 0; k < p.children.size(); ++k) {
    const PathNode& c = p.children[k];
    // The raw key of "" starts at its closing quote.
    set_bit(c.key.empty() ? '"' : static_cast<unsigned char>(c.key[0]));
    KeyEntry e;
    e.len = static_cast<uint32_t>(c.key.size());
    e.head = KeyHead(c.key.data(), c.key.size(), false);
    e.tail = c.key.size() > 8 ? KeyHead(c.key.data() + c.key.size() - 8, 8, false) : 0;
    e.node = Flatten(c, false);
    keys_[node.first_child + k] = e;
    key_names_[node.first_child + k] = c.key;
  }
  // A collision-free hash of (length, first and last 8 bytes) over the
  // children: a look-up is one slot and one compare, not a loop whose exit
  // branch the CPU cannot predict. Children that no hash tells apart (same
  // length and ends) keep the linear search.
  node.hashed = false;
  if (node.child_count > 0) {
    const int min_bits = std::bit_width(node.child_count) + 1;
    uint64_t seed = 0x243F6A8885A308D3ull;
    for (int bits = min_bits; bits <= min_bits + 3 && !node.hashed; ++bits) {
      for (int attempt = 0; attempt < 200 && !node.hashed; ++attempt) {
        seed += 0x9E3779B97F4A7C15ull;  // splitmix64
        uint64_t m = seed;
        m = (m ^ (m >> 30)) * 0xBF58476D1CE4E5B9ull;
        m = (m ^ (m >> 27)) * 0x94D049BB133111EBull;
        node.mult = (m ^ (m >> 31)) | 1;
        node.shift = static_cast<uint8_t>(64 - bits);
        std::vector<uint32_t> slots(size_t{1} << bits, 0);
        bool ok = true;
        for (uint32_t k = 0; k < node.child_count && ok; ++k) {
          const KeyEntry& e = keys_[node.first_child + k];
          uint32_t& slot = slots[Slot(node, e.head, e.tail, e.len)];
          ok = slot == 0;
          slot = node.first_child + k + 1;
        }
        if (ok) {
          node.first_slot = static_cast<uint32_t>(slots_.size());
          slots_.insert(slots_.end(), slots.begin(), slots.end());
          node.hashed = true;
        }
      }
    }
  }
  nodes_[id] = node;
  return id;
}

void EventParser::Insert(PathNode* node, const std::vector<std::string>& parts, size_t from, int index) {
  std::string key;
  for (size_t end = from; end < parts.size(); ++end) {
    if (end > from) key += '.';
    key += parts[end];
    PathNode* child = nullptr;
    for (auto& c : node->children) {
      if (c.key == key) child = &c;
    }
    if (!child) {
      node->children.push_back(PathNode{key, -1, {}});
      child = &node->children.back();
    }
    if (end + 1 == parts.size()) {
      child->index = index;
    } else {
      Insert(child, parts, end + 1, index);
    }
  }
}

SLUICE_INLINE size_t EventParser::Slot(const Node& node, uint64_t head, uint64_t tail, size_t len) {
  return ((head ^ (tail * 0x9E3779B97F4A7C15ull) ^ (len * 0xC2B2AE3D27D4EB4Full)) * node.mult) >> node.shift;
}

SLUICE_INLINE const EventParser::Node* EventParser::Child(const Node& node, std::string_view key, bool padded) const {
  const size_t n = key.size();
  const uint64_t head = KeyHead(key.data(), n, padded);
  const uint64_t tail = n > 8 ? KeyHead(key.data() + n - 8, 8, true) : 0;
  // Past the first and last 8 bytes, the middle of a long key.
  auto same = [&](const KeyEntry& e) {
    return e.head == head && e.tail == tail && e.len == n &&
           (n <= 16 || std::memcmp(key.data() + 8, key_names_[&e - keys_.data()].data() + 8, n - 16) == 0);
  };
  if (node.hashed) {
    const uint32_t slot = slots_[node.first_slot + Slot(node, head, tail, n)];
    return slot != 0 && same(keys_[slot - 1]) ? &nodes_[keys_[slot - 1].node] : nullptr;
  }
  for (uint32_t k = node.first_child; k < node.first_child + node.child_count; ++k) {
    if (same(keys_[k])) return &nodes_[keys_[k].node];
  }
  return nullptr;
}

void EventParser::ParseBatch(Batch* batch) {
  // Each event's values are cleared right before its parse stores them
  // (Batch::ClearFields).
  batch->ResizeFields(field_count_, false);
  // simdjson reads up to SIMDJSON_PADDING bytes past each event: guarantee that
  // the arena has them after the last one. The bytes of the next event serve
  // as padding for the previous ones.
  batch->arena().reserve(batch->arena().size() + simdjson::SIMDJSON_PADDING);
  const size_t n = batch->size();
  size_t i = 0;
  bool alone = false;
  if (scan_events_) {
    shape_hits_ = shape_misses_ = 0;
    // An event the scanner cannot decide is parsed alone; after a few such,
    // the rest of the batch takes the simdjson way (a stream in another form:
    // pretty-printed, with spaces).
    int misses = 0;
    for (; i < n; ++i) {
      batch->ClearFields(i);
      if (ScanEvent(batch, i)) continue;
      if (++misses > kScanMissesPerBatch) break;
      ParseEvent(batch, i);
      alone = true;
    }
  }
  if (i < n && field_count_ > 0) {
    std::memset(static_cast<void*>(&batch->field(i, 0)), 0, (n - i) * field_count_ * sizeof(FieldValue));
  }
  if (i < n && !(n - i >= 2 && ParseBatchAtOnce(batch, i))) {
    for (; i < n; ++i) ParseEvent(batch, i);
    alone = true;
  }
  if (!alone) ++batches_at_once_;
}

bool EventParser::ParseBatchAtOnce(Batch* batch, size_t from) {
  std::vector<Event>& events = batch->events();
  const size_t n = events.size();
  const char* arena = batch->arena().data();
  const uint32_t first = events[from].offset;
  uint32_t next = first;
  size_t largest = 0;
  for (size_t k = from; k < n; ++k) {
    const Event& e = events[k];
    if (e.offset != next) return false;
    next = e.offset + e.length;
    largest = std::max<size_t>(largest, e.length);
  }
  const size_t total = next - first;
  if (largest >= kMaxStage1EventBytes || next > batch->arena().size()) return false;
  // A line feed needs the event-by-event pass (minified rewrite, or an error).
  if (std::memchr(arena + first, '\n', total) != nullptr) return false;
  // iterate_many reallocates the parser unless batch_size equals its
  // capacity: grow in powers of two, keep the size.
  const size_t window = std::max(kStage1WindowBytes, std::bit_ceil(largest + 1));
  if (stream_capacity_ < window) stream_capacity_ = window;
  od::document_stream stream;
  if (parser_.iterate_many(arena + first, total, stream_capacity_).get(stream) != simdjson::SUCCESS) return false;
  if (batch_ts_.size() < n) batch_ts_.resize(n);

  bool ok = true;
  size_t i = from;
  for (auto it = stream.begin(); it != stream.end(); ++it) {
    od::document_reference doc;
    if (i == n || (*it).get(doc) != simdjson::SUCCESS) {
      ok = false;
      break;
    }
    // Each document must start where its event starts (after white space):
    // then no document spans two events and no event holds two documents.
    const Event& e = events[i];
    const char* start = arena + e.offset;
    const char* end = start + e.length;
    while (start < end && IsJsonWs(*start)) ++start;
    od::object obj;
    if (arena + first + it.current_index() != start || doc.get_object().get(obj) != simdjson::SUCCESS) {
      ok = false;
      break;
    }
    doc_ = doc;
    walk_has_ts_ = false;
    if (!Walk(obj, batch, i, nodes_[0], 0)) {
      ok = false;
      break;
    }
    batch_ts_[i] = walk_has_ts_ ? walk_ts_ : kNoTimestamp;
    ++i;
  }
  doc_ = od::document_reference();
  if (ok && i == n && stream.truncated_bytes() == 0) {
    for (size_t k = from; k < n; ++k) {
      Event& e = events[k];
      e.flags &= ~kEventInvalid;
      if (batch_ts_[k] != kNoTimestamp) {
        e.timestamp_ms = batch_ts_[k];
        e.flags |= kEventHasTimestamp;
      } else if (!(e.flags & kEventHasTimestamp)) {
        e.timestamp_ms = batch->received_ms;
      }
    }
    return true;
  }
  // Undo what the walk wrote; the event-by-event pass starts from scratch.
  for (size_t k = from; k < std::min(i + 1, n); ++k) {
    Event& e = events[k];
    e.cut_begin = e.cut_end = 0;
    e.meta_id = e.meta_pipeline = e.meta_op_type = e.meta_index = Span{};
    for (size_t f = 0; f < field_count_; ++f) batch->field(k, f) = FieldValue{};
  }
  return false;
}

// The key of `field` without copying: a view of the raw bytes when the key has
// no escapes (nearly always), else the unescaped copy in the parser's buffer.
static SLUICE_INLINE bool KeyOf(od::field& field, const char* end, std::string_view* key, const char** raw_start) {
  const char* p = field.key().raw();
  *raw_start = p;
  const char* q = FindQuoteOrBackslash(p, end);
  if (q < end && *q == '"') {
    *key = std::string_view(p, q - p);
    return true;
  }
  return field.unescaped_key().get(*key) == simdjson::SUCCESS;
}

bool EventParser::ReadMetadata(od::value v, Batch* batch, Event* e) {
  od::object meta;
  if (v.get_object().get(meta) != simdjson::SUCCESS) return false;
  const char* end = batch->arena().data() + e->offset + e->length;
  for (auto field_result : meta) {
    // The field in place: copying it (as get() does) was a store-forwarding
    // stall, 39% of Walk in BM_ParseBatch/1.
    if (field_result.error() != simdjson::SUCCESS) return false;
    od::field& field = field_result.value_unsafe();
    std::string_view key;
    const char* raw_key;
    if (!KeyOf(field, end, &key, &raw_key)) return false;
    Span* target = MetadataTarget(e, key);
    if (!target) continue;
    od::value& fv = field.value();
    od::json_type t;
    if (fv.type().get(t) != simdjson::SUCCESS || t != od::json_type::string) continue;
    std::string_view tok = TrimToken(fv.raw_json_token());
    if (tok.size() >= 2) *target = SpanOf(*batch, tok.substr(1, tok.size() - 2));
  }
  return true;
}

// Stores the value whose raw token (up to the next structural, perhaps with
// trailing white space) is `tok`; its type is its first byte, as
// value::type() reads it. False: no JSON value starts with that byte.
static SLUICE_INLINE bool SetField(FieldValue* fv, std::string_view tok, const Batch& batch) {
  switch (tok.empty() ? '\0' : tok[0]) {
    case '"':
      tok = TrimToken(tok);
      if (tok.size() < 2) return false;
      fv->kind = FieldKind::kString;
      fv->span = SpanOf(batch, tok.substr(1, tok.size() - 2));
      fv->escaped = HasBackslash(tok.data() + 1, tok.size() - 2);
      return true;
    case '-': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
      fv->kind = FieldKind::kNumber;
      fv->span = SpanOf(batch, TrimToken(tok));
      return true;
    case 't': case 'f':
      fv->kind = TrimToken(tok) == "true" ? FieldKind::kTrue : FieldKind::kFalse;
      return true;
    case 'n':
      fv->kind = FieldKind::kNull;
      return true;
    case '{': case '[':
      fv->kind = FieldKind::kComposite;
      return true;
    default:
      return false;
  }
}

bool EventParser::StoreValue(od::value& v, const Node& node, Batch* batch, size_t event, int depth) {
  // One look at the raw token decides the type and gives the bytes.
  std::string_view tok = v.raw_json_token();
  if (node.index >= 0) return SetField(&batch->field(event, node.index), tok, *batch);
  // A prefix of a wanted path: descend into an object, skip anything else.
  switch (tok.empty() ? '\0' : tok[0]) {
    case '{':
      break;
    case '[': case '"': case 'n': case 't': case 'f': case '-':
    case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
      return true;
    default:
      return false;
  }
  if (depth >= 16) return true;
  // Most nested objects are read straight from their bytes; then On-Demand
  // skips the value as it skips any other.
  const Event& e = batch->events()[event];
  if (ScanObject(tok.data(), batch->arena().data() + e.offset + e.length, ScanQuotes{}, node, batch, event, depth + 1)) {
    return true;
  }
  od::object child;
  if (v.get_object().get(child) != simdjson::SUCCESS) return false;
  return Walk(child, batch, event, node, depth + 1);
}

namespace {
// The first '"' at or after p, or nullptr if none before the event's end.
SLUICE_INLINE const char* NextQuote(const ScanQuotes& qs, const char* p) {
  const size_t i = p - qs.base;
  size_t w = i >> 6;
  if (w >= qs.words) return nullptr;
  uint64_t m = qs.bits[4 * w] & (~uint64_t{0} << (i & 63));
  while (m == 0) {
    if (++w == qs.words) return nullptr;
    m = qs.bits[4 * w];
  }
  return qs.base + (w << 6) + std::countr_zero(m);
}

// Past the composite whose opening bracket is at p, from the bracket bits;
// nullptr if its brackets do not close, do not pair up or nest deeper than 64
// (as SkipComposite).
const char* SkipCompositeBits(const ScanQuotes& qs, const char* p) {
  const size_t i = p - qs.base;
  size_t w = i >> 6;
  const uint64_t* b = qs.bits + 4 * w;
  uint64_t brackets = (b[1] | b[2]) & (~uint64_t{0} << (i & 63));
  uint64_t objects = 0;  // bit d: the bracket open at depth d + 1 is '{'
  int depth = 0;
  for (;;) {
    while (brackets == 0) {
      if (++w == qs.words) return nullptr;
      b = qs.bits + 4 * w;
      brackets = b[1] | b[2];
    }
    const int k = std::countr_zero(brackets);
    brackets &= brackets - 1;
    const uint64_t curly = (b[3] >> k) & 1;
    if ((b[1] >> k) & 1) {
      if (depth == 64) return nullptr;
      objects = (objects << 1) | curly;
      ++depth;
    } else {
      if ((objects & 1) != curly) return nullptr;
      objects >>= 1;
      if (--depth == 0) return qs.base + (w << 6) + k + 1;
    }
  }
}

// Past the string whose opening quote is at p, or nullptr if it does not end before `end`.
const char* EndOfString(const char* p, const char* end) {
  for (p = FindQuoteOrBackslash(p + 1, end); p < end; p = FindQuoteOrBackslash(p + 2, end)) {
    if (*p == '"') return p + 1;
  }
  return nullptr;
}
SLUICE_INLINE const char* EndOfString(const char* p, const char* end, const ScanQuotes& qs) {
  if (!qs.bits) return EndOfString(p, end);
  const char* q = NextQuote(qs, p + 1);
  return q ? q + 1 : nullptr;
}

// Past the number at p in JSON's grammar, or nullptr.
const char* EndOfNumber(const char* p, const char* end) {
  auto digits = [&](const char* q) {
    while (q < end && *q >= '0' && *q <= '9') ++q;
    return q;
  };
  if (p < end && *p == '-') ++p;
  if (p >= end) return nullptr;
  if (*p == '0') {
    ++p;
  } else if (*p >= '1' && *p <= '9') {
    p = digits(p + 1);
  } else {
    return nullptr;
  }
  if (p < end && *p == '.') {
    const char* q = digits(p + 1);
    if (q == p + 1) return nullptr;
    p = q;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p < end && (*p == '+' || *p == '-')) ++p;
    const char* q = digits(p);
    if (q == p) return nullptr;
    p = q;
  }
  return p;
}

// EndOfNumber for the usual number, digits with perhaps a '-' and no
// fraction or exponent: found from one 16-byte compare, not a byte loop (146
// instructions per event for the three numbers of a Beats event, ~15% of
// reading the rules' fields). Anything else, or a run of 16 digits, goes to
// EndOfNumber. Reads up to 16 bytes past p (inside the padded document).
SLUICE_INLINE const char* EndOfNumberFast(const char* p, const char* end) {
#if defined(__SSE2__)
  const char* q = p + (*p == '-');
  const __m128i d = _mm_sub_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q)), _mm_set1_epi8('0'));
  const auto digits = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d)));
  const unsigned other = ~digits & 0xffffu;
  if (other != 0) {
    const int k = std::countr_zero(other);
    const char c = q[k];
    // One '0' or digits that do not start with '0', then no '.', 'e' or 'E'.
    if (k > 0 && q + k <= end && c != '.' && (c | 0x20) != 'e' && (q[0] != '0' || k == 1)) return q + k;
  }
#endif
  return EndOfNumber(p, end);
}

// Past the array or object at p, or nullptr if its brackets (counted outside
// strings) do not close, do not pair up ('{' with '}', '[' with ']') or nest
// deeper than 64, or if a backslash stands outside a string (stage 1 takes
// the quote after it as escaped, and so pairs the quotes otherwise). Where
// they pair up, On-Demand skips a value it was not asked for to the same
// place (it counts brackets without their kind).
const char* SkipComposite(const char* p, const char* end, const ScanQuotes& qs) {
  if (qs.bits) return SkipCompositeBits(qs, p);
  uint64_t objects = 0;  // bit d: the bracket open at depth d + 1 is '{'
  int depth = 0;
  while (p < end) {
    const char c = *p;
    if (c == '"') {
      p = EndOfString(p, end, qs);
      if (!p) return nullptr;
      continue;
    }
    if (c == '\\') return nullptr;
    if (c == '{' || c == '[') {
      if (depth == 64) return nullptr;
      objects = (objects << 1) | (c == '{');
      ++depth;
    } else if (c == '}' || c == ']') {
      if ((objects & 1) != (c == '}')) return nullptr;
      objects >>= 1;
      if (--depth == 0) return p + 1;
    }
    ++p;
  }
  return nullptr;
}

// Past the value at v in the compact form (a string, a JSON number, true,
// false, null, or a composite whose brackets pair up), or nullptr.
SLUICE_INLINE const char* SkipCompactValue(const char* v, const char* end, const ScanQuotes& qs) {
  switch (*v) {
    case '"':
      return EndOfString(v, end, qs);
    case '{': case '[':
      return SkipComposite(v, end, qs);
    case 't':
      return end - v >= 4 && std::memcmp(v, "true", 4) == 0 ? v + 4 : nullptr;
    case 'f':
      return end - v >= 5 && std::memcmp(v, "false", 5) == 0 ? v + 5 : nullptr;
    case 'n':
      return end - v >= 4 && std::memcmp(v, "null", 4) == 0 ? v + 4 : nullptr;
    default:
      return EndOfNumberFast(v, end);
  }
}

// The closing quote of the key that starts at `key` (past its opening
// quote) when a ':' follows it and a value may follow that, in the compact
// form: no escape, no white space. Else nullptr.
SLUICE_INLINE const char* CompactKeyEnd(const char* key, const char* end, const ScanQuotes& qs) {
  // A key with an escape is left to simdjson: with backslashes in the event,
  // look for them.
  const char* q = qs.bits && !qs.may_escape ? NextQuote(qs, key) : FindQuoteOrBackslash(key, end);
  return q && q + 2 < end && *q == '"' && q[1] == ':' ? q : nullptr;
}

// The bytes escaped by a backslash in a block of 64 (those after an odd run
// of backslashes), from its backslashes: a run starting on an even position
// escapes the byte after its end if its length is odd, found by adding the
// run starts to the runs (the carry runs through each run) and comparing
// parities. `carry` (in, out): the block's first byte is escaped.
SLUICE_INLINE uint64_t EscapedBytes(uint64_t backslash, uint64_t* carry) {
  constexpr uint64_t kEven = 0x5555555555555555ull;
  backslash &= ~*carry;
  const uint64_t after_backslash = (backslash << 1) | *carry;
  const uint64_t odd_starts = backslash & ~kEven & ~after_backslash;
  uint64_t sums;
  *carry = __builtin_add_overflow(odd_starts, backslash, &sums) ? 1 : 0;
  return (kEven ^ (sums << 1)) & after_backslash;
}

// Whether the event's bytes [p, p + n) may be decided without stage 1: no
// byte below 0x20 (stage 1 rejects them inside strings, ParseEvent rewrites
// events with line feeds, and the compact form has no white space anyway)
// and valid UTF-8 (what stage 1 checks). In the same pass, where its strings
// and brackets are (`bits`, and `qs` unless a backslash stands outside a
// string). Reads up to 63 bytes past p + n.
bool CompactBytes(const char* p, size_t n, std::vector<uint64_t>* bits, ScanQuotes* qs) {
  const size_t words = (n + 63) / 64;
  if (bits->size() < 4 * words) bits->resize(4 * words);
  uint64_t* out = bits->data();
  uint64_t control = 0, high = 0, backslash = 0, loose_backslash = 0;
  uint64_t escape_carry = 0;
  uint64_t in_string = 0;  // all ones when the previous word ended inside a string
  // Word w from its quotes, backslashes, brackets and bit 5. Inside a string:
  // from an opening quote to the byte before its closing one (a prefix XOR of
  // the quotes, by a carry-less multiply by all ones where there is one).
  auto store = [&](size_t w, uint64_t quotes, uint64_t backslashes, uint64_t opening, uint64_t closing, uint64_t curly) {
    if (backslashes != 0 || escape_carry != 0) quotes &= ~EscapedBytes(backslashes, &escape_carry);
    uint64_t inside = quotes;
#if defined(__PCLMUL__)
    inside = static_cast<uint64_t>(
        _mm_cvtsi128_si64(_mm_clmulepi64_si128(_mm_cvtsi64_si128(static_cast<int64_t>(quotes)), _mm_set1_epi8(-1), 0)));
#else
    for (int shift = 1; shift < 64; shift <<= 1) inside ^= inside << shift;
#endif
    in_string ^= inside;
    uint64_t* o = out + 4 * w;
    o[0] = quotes;
    o[1] = opening & ~in_string;
    o[2] = closing & ~in_string;
    o[3] = curly;
    backslash |= backslashes;
    loose_backslash |= backslashes & ~in_string;
    in_string = static_cast<uint64_t>(static_cast<int64_t>(in_string) >> 63);
  };
#if defined(__AVX2__)
  const __m256i limit = _mm256_set1_epi8(0x1f);
  const __m256i quote = _mm256_set1_epi8('"');
  const __m256i bs = _mm256_set1_epi8('\\');
  const __m256i bit5 = _mm256_set1_epi8(0x20);
  const __m256i open = _mm256_set1_epi8('{');    // '[' | 0x20 too
  const __m256i close = _mm256_set1_epi8('}');   // ']' | 0x20 too
  __m256i ctl = _mm256_setzero_si256(), any = _mm256_setzero_si256();
  auto mask = [](__m256i lo, __m256i hi) {
    return static_cast<uint32_t>(_mm256_movemask_epi8(lo)) | uint64_t{static_cast<uint32_t>(_mm256_movemask_epi8(hi))} << 32;
  };
  for (size_t w = 0; w < words; ++w) {
    const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 64 * w));
    const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 64 * w + 32));
    const __m256i c0 = _mm256_cmpeq_epi8(_mm256_max_epu8(v0, limit), limit);
    const __m256i c1 = _mm256_cmpeq_epi8(_mm256_max_epu8(v1, limit), limit);
    const __m256i l0 = _mm256_or_si256(v0, bit5), l1 = _mm256_or_si256(v1, bit5);
    uint64_t q = mask(_mm256_cmpeq_epi8(v0, quote), _mm256_cmpeq_epi8(v1, quote));
    uint64_t e = mask(_mm256_cmpeq_epi8(v0, bs), _mm256_cmpeq_epi8(v1, bs));
    uint64_t opening = mask(_mm256_cmpeq_epi8(l0, open), _mm256_cmpeq_epi8(l1, open));
    uint64_t closing = mask(_mm256_cmpeq_epi8(l0, close), _mm256_cmpeq_epi8(l1, close));
    // Bit 5 of each byte moved to bit 7 (16-bit lanes: bits 6 and 7 of the
    // low byte go to bits 0 and 1 of the high one, not to its bit 7).
    const uint64_t curly = mask(_mm256_slli_epi16(v0, 2), _mm256_slli_epi16(v1, 2));
    if (64 * w + 64 > n) {
      // The last, partial block: the bytes past n are not the event's.
      const uint64_t keep = (uint64_t{1} << (n - 64 * w)) - 1;
      q &= keep;
      e &= keep;
      opening &= keep;
      closing &= keep;
      control |= mask(c0, c1) & keep;
      high |= mask(v0, v1) & keep;
    } else {
      ctl = _mm256_or_si256(ctl, _mm256_or_si256(c0, c1));
      any = _mm256_or_si256(any, _mm256_or_si256(v0, v1));
    }
    store(w, q, e, opening, closing, curly);
  }
  control |= static_cast<uint32_t>(_mm256_movemask_epi8(ctl));
  high |= static_cast<uint32_t>(_mm256_movemask_epi8(any));
#else
  for (size_t w = 0; w < words; ++w) {
    uint64_t q = 0, e = 0, opening = 0, closing = 0, curly = 0;
    for (size_t i = 64 * w; i < std::min(n, 64 * w + 64); ++i) {
      const auto c = static_cast<unsigned char>(p[i]);
      const uint64_t bit = uint64_t{1} << (i & 63);
      control |= c < 0x20;
      high |= c >> 7;
      if (c == '"') q |= bit;
      if (c == '\\') e |= bit;
      if ((c | 0x20) == '{') opening |= bit;
      if ((c | 0x20) == '}') closing |= bit;
      if (c & 0x20) curly |= bit;
    }
    store(w, q, e, opening, closing, curly);
  }
#endif
  if (control != 0 || (high != 0 && !simdjson::validate_utf8(p, n))) return false;
  *qs = ScanQuotes{p, loose_backslash == 0 ? out : nullptr, words, backslash != 0};
  return true;
}

// Reads the object at p (its '{') in the compact form: `member(key, k)`
// (past the opening quote of member k's key) returns the position past the
// member's value, or nullptr. Returns the position past the object, or
// nullptr.
template <class Member>
SLUICE_INLINE const char* ScanCompactObject(const char* p, const char* end, Member&& member) {
  ++p;
  if (p < end && *p == '}') return p + 1;
  for (size_t k = 0; p < end && *p == '"'; ++k) {
    p = member(p + 1, k);
    if (!p || p >= end || (*p != ',' && *p != '}')) return nullptr;
    if (*p == '}') return p + 1;
    ++p;
  }
  return nullptr;
}

// @metadata's object at p (its '{') in the compact form, as ReadMetadata
// reads it: the string values of _id, pipeline, op_type and index. Past the
// object, or nullptr. *stored: whether it stored any of them.
const char* ScanMetadata(const char* p, const char* end, const ScanQuotes& qs, const Batch& batch, Event* e,
                         bool* stored) {
  *stored = false;
  return ScanCompactObject(p, end, [&](const char* key, size_t) -> const char* {
    const char* q = CompactKeyEnd(key, end, qs);
    if (!q) return nullptr;
    Span* target = MetadataTarget(e, std::string_view(key, q - key));
    const char* v = q + 2;
    const char* after = SkipCompactValue(v, end, qs);
    if (after && target && *v == '"') {
      *target = SpanOf(batch, std::string_view(v + 1, after - v - 2));
      *stored = true;
    }
    return after;
  });
}
}  // namespace

SLUICE_INLINE const char* EventParser::MemberKey(const char* key, const char* end, const ScanQuotes& qs,
                                                 uint32_t node_id, size_t k, const Node** child, int* special) {
  KeyMemo* m = k < kMemoWidth ? &memo_[node_id * kMemoWidth + k] : nullptr;
  if (m && m->mask != 0 && key + m->len + 2 < end) {
    // The memorized key has no quote or backslash: equal bytes, then its
    // quote and ':', put the key's end where CompactKeyEnd would.
#if defined(__SSE2__)
    const auto eq = static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(key)), _mm_loadu_si128(reinterpret_cast<const __m128i*>(m->bytes)))));
    const bool same = (eq & m->mask) == m->mask;
#else
    const bool same = std::memcmp(key, m->bytes, m->len + 2) == 0;
#endif
    if (same) {
      *child = m->child >= 0 ? &nodes_[m->child] : nullptr;
      *special = m->special;
      return key + m->len;
    }
  }
  const char* q = CompactKeyEnd(key, end, qs);
  if (!q) return nullptr;
  const size_t len = q - key;
  // As Walk decides (at the root, @metadata and @timestamp before the fields).
  const Node& node = nodes_[node_id];
  *special = 0;
  *child = nullptr;
  if (node_id == 0 && *key == '@' && len == 9 && std::memcmp(key, "@metadata", 9) == 0) {
    *special = 1;
  } else if (node_id == 0 && *key == '@' && len == 10 && std::memcmp(key, "@timestamp", 10) == 0) {
    *special = 2;
  } else if (node.MayStartWith(static_cast<unsigned char>(*key))) {
    *child = Child(node, std::string_view(key, len), true);
  }
  if (m && len <= 14) {
    std::memset(m->bytes, 0, sizeof m->bytes);
    std::memcpy(m->bytes, key, len + 2);
    m->mask = (uint32_t{1} << (len + 2)) - 1;
    m->len = static_cast<uint32_t>(len);
    m->child = *child ? static_cast<int32_t>(*child - nodes_.data()) : -1;
    m->special = *special;
  }
  return q;
}

SLUICE_INLINE void EventParser::StoreScanned(const char* v, const char* after, int field, const ScanQuotes& qs,
                                            Batch* batch, size_t event) {
  FieldValue& fv = batch->field(event, field);
  if (*v == '"') {
    // The token is exact here (no white space).
    const std::string_view content(v + 1, after - v - 2);
    fv.kind = FieldKind::kString;
    fv.span = SpanOf(*batch, content);
    fv.escaped = qs.may_escape && HasBackslash(content.data(), content.size());
  } else {
    SetField(&fv, std::string_view(v, after - v), *batch);
  }
}

SLUICE_INLINE const char* EventParser::ScanValue(const char* v, const char* end, const ScanQuotes& qs,
                                                 const Node* child, Batch* batch, size_t event, int depth) {
  // An object on a wanted path is read (not past depth 16, as Walk); any
  // other value is only passed over, and stored if it ends a wanted path.
  const bool read = child && child->index < 0 && *v == '{' && depth < 16;
  const char* p = read ? ScanObject(v, end, qs, *child, batch, event, depth + 1) : SkipCompactValue(v, end, qs);
  if (!p || p >= end || (*p != ',' && *p != '}')) return nullptr;
  if (!read) {
    const int field = child ? child->index : -1;
    if (field >= 0) StoreScanned(v, p, field, qs, batch, event);
    RecordValue(v, p, field, kShapeOther, child && child->index < 0 && depth < 16);
  }
  return p;
}

const char* EventParser::ScanObject(const char* p, const char* end, const ScanQuotes& qs, const Node& node,
                                    Batch* batch, size_t event, int depth) {
  // p at '{'. Only the compact form is taken: keys without escapes, no white
  // space between tokens, values that are strings, JSON numbers, true, false,
  // null, or composites whose brackets pair up. Anything else returns nullptr
  // before the walk would have decided differently, and On-Demand walks the
  // object instead (what was stored meanwhile it stores again, in the same
  // order).
  const auto node_id = static_cast<uint32_t>(&node - nodes_.data());
  return ScanCompactObject(p, end, [&](const char* key, size_t k) -> const char* {
    const Node* child;
    int special;
    const char* q = MemberKey(key, end, qs, node_id, k, &child, &special);
    return q ? ScanValue(q + 2, end, qs, child, batch, event, depth) : nullptr;
  });
}

namespace {
// Whether p[0, n) equals lit[0, n). Reads up to 31 bytes past both (padded).
SLUICE_INLINE bool SameBytes(const char* p, const char* lit, size_t n) {
#if defined(__AVX2__)
  for (size_t i = 0; i < n; i += 32) {
    const auto eq = static_cast<uint32_t>(_mm256_movemask_epi8(
        _mm256_cmpeq_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)),
                          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lit + i)))));
    const uint32_t need = n - i >= 32 ? ~uint32_t{0} : (uint32_t{1} << (n - i)) - 1;
    if ((eq & need) != need) return false;
  }
  return true;
#else
  return std::memcmp(p, lit, n) == 0;
#endif
}
}  // namespace

bool EventParser::ScanByShape(const Shape& shape, Batch* batch, size_t i, const char* base, const char* end,
                              const ScanQuotes& qs, bool* has_ts, int64_t* ts_ms) {
  // The checks are the scanner's: the same bytes before each value (keys,
  // separators, brackets of the objects it read) make it decide the same,
  // and each value is checked and stored by the same functions.
  const char* lits = shape.bytes.data();
  const char* p = base;
  for (const ShapeStep& s : shape.steps) {
    if (static_cast<size_t>(end - p) < s.lit_len || !SameBytes(p, lits + s.lit, s.lit_len)) return false;
    p += s.lit_len;  // a value follows: the bytes end with ':' and the event with '}'
    const char* after;
    switch (s.op) {
      case kShapeString:
        if (*p != '"' || !(after = EndOfString(p, end, qs))) return false;
        if (s.field >= 0) StoreScanned(p, after, s.field, qs, batch, i);
        break;
      case kShapeNumber:
        if (!(after = EndOfNumberFast(p, end))) return false;
        if (s.field >= 0) {
          FieldValue& fv = batch->field(i, s.field);
          fv.kind = FieldKind::kNumber;
          fv.span = SpanOf(*batch, std::string_view(p, after - p));
        }
        break;
      case kShapeOther:
        if ((s.no_object && *p == '{') || !(after = SkipCompactValue(p, end, qs))) return false;
        if (s.field >= 0) StoreScanned(p, after, s.field, qs, batch, i);
        break;
      case kShapeTimestamp:
        if (!(after = SkipCompactValue(p, end, qs))) return false;
        if (*p == '"') {
          if (qs.may_escape && HasBackslash(p + 1, after - p - 2)) return false;
          *has_ts = ParseTimestamp(std::string_view(p + 1, after - p - 2), ts_ms);
        }
        break;
      case kShapeMetadata: {
        Event& e = batch->events()[i];
        bool stored;
        if (!(after = *p == '{' ? ScanMetadata(p, end, qs, *batch, &e, &stored) : SkipCompactValue(p, end, qs))) {
          return false;
        }
        CutMetadata(p - 12, after, base, &e);  // "@metadata": stands before the value
        break;
      }
      case kShapeMetadataSame:
        // The object was part of the literal: the same bytes as an object
        // the scanner read without storing anything (Beats' own @metadata).
        CutMetadata(p - s.field - 12, p, base, &batch->events()[i]);
        continue;
      case kShapeEnd:
        return p == end;
      default:
        return false;  // no other step is built (and GCC then sees `after` set on every path)
    }
    p = after;
  }
  return false;
}

void EventParser::AddShape(const char* base, const char* end) {
  if (shape_marks_.size() > kMaxShapeValues) return;
  // In place of the oldest, reusing its storage.
  if (shapes_.size() < kShapes) {
    shape_last_ = shapes_.size();
    shapes_.emplace_back();
  } else {
    shape_last_ = shape_next_;
    shape_next_ = (shape_next_ + 1) % kShapes;
  }
  Shape& shape = shapes_[shape_last_];
  shape.steps.clear();
  shape.bytes.clear();
  const char* from = base;
  auto step = [&](const char* to, int32_t field, ShapeOp op, bool no_object) {
    shape.steps.push_back(
        ShapeStep{static_cast<uint32_t>(shape.bytes.size()), static_cast<uint32_t>(to - from), field, op, no_object});
    shape.bytes.append(from, to);
  };
  for (const ShapeMark& m : shape_marks_) {
    if (m.op == kShapeMetadataSame) {
      // The object's bytes join the literal; `field` holds their length.
      step(m.after, static_cast<int32_t>(m.after - m.v), kShapeMetadataSame, false);
      from = m.after;
      continue;
    }
    ShapeOp op = m.op;
    if (op == kShapeOther && *m.v == '"') op = kShapeString;
    if (op == kShapeOther && (*m.v == '-' || (*m.v >= '0' && *m.v <= '9'))) op = kShapeNumber;
    step(m.v, m.field, op, m.no_object);
    from = m.after;
  }
  step(end, -1, kShapeEnd, false);
  shape.bytes.append(32, '\0');
}

bool EventParser::ScanEvent(Batch* batch, size_t i) {
  Event& e = batch->events()[i];
  const char* base = batch->arena().data() + e.offset;
  const char* end = base + e.length;
  ScanQuotes qs;
  if (e.length < 2 || base[0] != '{' || end[-1] != '}' || !CompactBytes(base, e.length, &quote_bits_, &qs)) {
    return false;
  }
  const uint32_t cut_begin = e.cut_begin, cut_end = e.cut_end;
  const Span meta[4] = {e.meta_id, e.meta_pipeline, e.meta_op_type, e.meta_index};
  // Leaves the event as it was (for the next shape, the scanner, ParseEvent).
  auto restore = [&] {
    e.cut_begin = cut_begin;
    e.cut_end = cut_end;
    e.meta_id = meta[0];
    e.meta_pipeline = meta[1];
    e.meta_op_type = meta[2];
    e.meta_index = meta[3];
    for (size_t f = 0; f < field_count_; ++f) batch->field(i, f) = FieldValue{};
  };
  bool has_ts = false;
  int64_t ts_ms = 0;
  bool ok = false;
  const bool shapes = shapes_on_ && (shape_misses_ <= kShapeMissesPerBatch || shape_misses_ <= shape_hits_);
  if (shapes) {
    for (size_t t = 0; t < shapes_.size() && !ok; ++t) {
      const size_t s = (shape_last_ + t) % shapes_.size();
      ok = ScanByShape(shapes_[s], batch, i, base, end, qs, &has_ts, &ts_ms);
      if (ok) {
        shape_last_ = s;
        ++events_by_shape_;
        ++shape_hits_;
      } else {
        restore();
        has_ts = false;
      }
    }
    shape_misses_ += !ok;
  }
  if (!ok) {
    // The members as Walk takes them at depth 0: @metadata and @timestamp
    // first, then the wanted keys (see Walk). What it passes over or stores
    // is recorded: the event's shape.
    shape_marks_.clear();
    recording_ = shapes;
    const char* after = ScanCompactObject(base, end, [&](const char* key, size_t k) -> const char* {
      const Node* child;
      int special;
      const char* q = MemberKey(key, end, qs, 0, k, &child, &special);
      if (!q) return nullptr;
      const char* v = q + 2;
      if (special == 1) {
        bool stored = true;
        const char* p = *v == '{' ? ScanMetadata(v, end, qs, *batch, &e, &stored) : SkipCompactValue(v, end, qs);
        if (p) {
          CutMetadata(key - 1, p, base, &e);
          RecordValue(v, p, -1, !stored && p - v <= kMaxMetadataBytes ? kShapeMetadataSame : kShapeMetadata);
        }
        return p;
      }
      if (special == 2) {
        const char* p = SkipCompactValue(v, end, qs);
        if (!p || p >= end || (*p != ',' && *p != '}')) return nullptr;
        if (*v == '"') {
          // Walk would unescape an escaped one: left to it.
          if (qs.may_escape && HasBackslash(v + 1, p - v - 2)) return nullptr;
          has_ts = ParseTimestamp(std::string_view(v + 1, p - v - 2), &ts_ms);
        }
        RecordValue(v, p, -1, kShapeTimestamp);
        return p;
      }
      return ScanValue(v, end, qs, child, batch, i, 0);
    });
    recording_ = false;
    // The object must fill the event: no white space after it either.
    ok = after == end;
    if (!ok) {
      restore();
      return false;
    }
    if (shapes) AddShape(base, end);
  }
  // As ParseEvent stores a valid event.
  e.flags &= ~kEventInvalid;
  if (has_ts) {
    e.timestamp_ms = ts_ms;
    e.flags |= kEventHasTimestamp;
  }
  if (!(e.flags & kEventHasTimestamp)) e.timestamp_ms = batch->received_ms;
  ++events_scanned_;
  return true;
}

bool EventParser::Walk(od::object& obj, Batch* batch, size_t event, const Node& node, int depth) {
  Event& e = batch->events()[event];
  const char* base = batch->arena().data() + e.offset;
  const char* end = base + e.length;
  for (auto field_result : obj) {
    // The field in place: copying it (as get() does) was a store-forwarding
    // stall, 39% of Walk in BM_ParseBatch/1.
    if (field_result.error() != simdjson::SUCCESS) return false;
    od::field& field = field_result.value_unsafe();
    // A key whose first byte starts no wanted key (nor @metadata, @timestamp
    // or an escape) is not read further: with nothing registered (the
    // default), only @-keys are read (KeyOf was 3.6% of the Beats profile).
    if (!node.MayStartWith(static_cast<unsigned char>(*field.key().raw()))) continue;
    std::string_view key;
    const char* raw_key;
    if (!KeyOf(field, end, &key, &raw_key)) return false;
    if (depth == 0 && !key.empty() && key[0] == '@') {
      if (key == "@metadata") {
        // Once the @metadata object is read, the iterator stands on the token
        // after it, which ends the member to cut: no second scan of the bytes
        // (SkipJsonMember) unless the value was not an object.
        const char* after = nullptr;
        if (ReadMetadata(field.value(), batch, &e)) {
          simdjson::simdjson_result<const char*> loc = doc_.current_location();
          if (loc.error() == simdjson::SUCCESS) after = loc.value_unsafe();
        }
        if (!after) after = SkipJsonMember(raw_key - 1, end);
        CutMetadata(raw_key - 1, after, base, &e);
        continue;
      }
      if (key == "@timestamp") {
        // The raw token unless the string has escapes (never, in practice):
        // no unescaped copy.
        std::string_view ts = TrimToken(field.value().raw_json_token());
        if (ts.size() < 2 || ts.front() != '"') continue;
        ts = ts.substr(1, ts.size() - 2);
        if (HasBackslash(ts.data(), ts.size()) && field.value().get_string().get(ts) != simdjson::SUCCESS) {
          continue;
        }
        walk_has_ts_ = ParseTimestamp(ts, &walk_ts_);
        continue;
      }
    }
    const Node* child = Child(node, key, key.data() == raw_key);
    if (!child) continue;  // the value is skipped by On-Demand
    if (!StoreValue(field.value(), *child, batch, event, depth)) return false;
  }
  return true;
}

bool EventParser::ParseTimestamp(std::string_view ts, int64_t* ms) {
  // Beats' form, "2026-11-21T05:30:59.285Z", and events of one batch nearly
  // always share the minute: then only the seconds and milliseconds are read
  // (ParseRfc3339Ms was 3% of the Beats profile, bench/RESULTS.md).
  auto digit = [&](size_t i) { return static_cast<unsigned>(ts[i] - '0'); };
  const bool beats_form = ts.size() == 24 && ts[16] == ':' && ts[19] == '.' && ts[23] == 'Z';
  if (beats_form && ts_minute_valid_ && std::memcmp(ts.data(), ts_minute_, 16) == 0) {
    const unsigned d[5] = {digit(17), digit(18), digit(20), digit(21), digit(22)};
    if (d[0] <= 6 && d[1] <= 9 && d[2] <= 9 && d[3] <= 9 && d[4] <= 9) {
      const unsigned sec = d[0] * 10 + d[1];
      if (sec <= 60) {
        *ms = ts_minute_ms_ + sec * 1000 + d[2] * 100 + d[3] * 10 + d[4];
        return true;
      }
    }
  }
  if (!ParseRfc3339Ms(ts, ms)) return false;
  if (beats_form) {
    // A valid timestamp: its first 16 bytes are a valid minute.
    std::memcpy(ts_minute_, ts.data(), 16);
    ts_minute_ms_ = *ms - ((digit(17) * 10 + digit(18)) * 1000 + digit(20) * 100 + digit(21) * 10 + digit(22));
    ts_minute_valid_ = true;
  }
  return true;
}

void EventParser::CutMetadata(const char* key_quote, const char* after, const char* base, Event* e) {
  const char* end = base + e->length;
  // `after` may stand past white space that follows the value: back up to the value's end.
  while (after > key_quote && (after[-1] == ' ' || after[-1] == '\t' || after[-1] == '\r' || after[-1] == '\n')) --after;
  // Cut the member and one adjacent comma: the preceding one if any, else the following one.
  const char* cut_from = key_quote;
  const char* cut_to = after;
  const char* q = key_quote - 1;
  while (q > base && (*q == ' ' || *q == '\t' || *q == '\r')) --q;
  if (*q == ',') {
    cut_from = q;
  } else {
    const char* r = after;
    while (r < end && (*r == ' ' || *r == '\t' || *r == '\r')) ++r;
    if (r < end && *r == ',') cut_to = r + 1;
  }
  e->cut_begin = static_cast<uint32_t>(cut_from - base);
  e->cut_end = static_cast<uint32_t>(cut_to - base);
}

bool EventParser::ParseEvent(Batch* batch, size_t i) {
  Event& e = batch->events()[i];
  e.flags &= ~kEventInvalid;
  auto fail = [&](std::string msg) {
    e.flags |= kEventInvalid;
    e.error = batch->AddError(std::move(msg));
    return false;
  };
  // A line feed would break the NDJSON framing of bulk bodies and files: rewrite
  // pretty-printed events minified (a line feed inside a string is invalid JSON).
  if (std::memchr(batch->arena().data() + e.offset, '\n', e.length) != nullptr) {
    scratch_.resize(e.length);
    size_t out_len = 0;
    if (simdjson::minify(batch->arena().data() + e.offset, e.length, scratch_.data(), out_len) != simdjson::SUCCESS ||
        std::memchr(scratch_.data(), '\n', out_len) != nullptr) {
      return fail("invalid JSON: line feed inside a string");
    }
    Span s = batch->AppendBytes(std::string_view(scratch_.data(), out_len));
    batch->arena().reserve(batch->arena().size() + simdjson::SIMDJSON_PADDING);
    e.offset = s.off;
    e.length = s.len;
  }
  const char* base = batch->arena().data() + e.offset;
  const size_t capacity = batch->arena().capacity() - e.offset;
  od::document doc;
  auto err = parser_.iterate(base, e.length, capacity).get(doc);
  if (err) return fail(StrCat("invalid JSON: ", simdjson::error_message(err)));
  od::object obj;
  if ((err = doc.get_object().get(obj))) {
    return fail(StrCat("invalid JSON: the event is not a JSON object (", simdjson::error_message(err), ")"));
  }
  doc_ = od::document_reference(doc);
  walk_has_ts_ = false;
  const bool walked = Walk(obj, batch, i, nodes_[0], 0);
  doc_ = od::document_reference();
  if (walk_has_ts_) {
    e.timestamp_ms = walk_ts_;
    e.flags |= kEventHasTimestamp;
  }
  if (!walked) return fail("invalid JSON inside the event");
  // current_location() succeeds only if something follows the object.
  if (doc.current_location().error() == simdjson::SUCCESS) {
    return fail("invalid JSON: trailing content after the object");
  }
  if (!(e.flags & kEventHasTimestamp)) e.timestamp_ms = batch->received_ms;
  return true;
}

}  // namespace sluice
