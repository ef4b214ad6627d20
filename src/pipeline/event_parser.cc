#include "pipeline/event_parser.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "common/strings.h"
#include "common/timeutil.h"

namespace sluice {
namespace od = simdjson::ondemand;

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

// raw_json_token() of a scalar may carry trailing whitespace; strings keep their quotes.
std::string_view TrimToken(std::string_view t) {
  while (!t.empty() && (t.back() == ' ' || t.back() == '\n' || t.back() == '\r' || t.back() == '\t')) t.remove_suffix(1);
  return t;
}
}  // namespace

const char* SkipJsonMember(const char* p, const char* end) {
  p = SkipString(p, end);
  p = SkipWs(p, end);
  if (p < end && *p == ':') ++p;
  return SkipValue(p, end);
}

EventParser::EventParser(const std::vector<std::string>& field_paths) : field_count_(field_paths.size()) {
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
    Insert(&root_, parts, 0, static_cast<int>(i));
  }
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

const EventParser::PathNode* EventParser::Child(const PathNode& node, std::string_view key) {
  for (const auto& c : node.children) {
    if (c.key.size() == key.size() && std::memcmp(c.key.data(), key.data(), key.size()) == 0) return &c;
  }
  return nullptr;
}

void EventParser::ParseBatch(Batch* batch) {
  batch->ResizeFields(field_count_);
  // simdjson reads up to SIMDJSON_PADDING bytes past each event: guarantee that
  // the arena has them after the last one. The bytes of the next event serve
  // as padding for the previous ones.
  batch->arena().reserve(batch->arena().size() + simdjson::SIMDJSON_PADDING);
  if (batch->size() >= 2 && ParseBatchAtOnce(batch)) return;
  for (size_t i = 0; i < batch->size(); ++i) ParseEvent(batch, i);
}

bool EventParser::ParseBatchAtOnce(Batch* batch) {
  std::vector<Event>& events = batch->events();
  const size_t n = events.size();
  const char* arena = batch->arena().data();
  const uint32_t first = events[0].offset;
  uint32_t next = first;
  size_t largest = 0;
  for (const Event& e : events) {
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
  size_t i = 0;
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
    if (!Walk(obj, batch, i, root_, 0)) {
      ok = false;
      break;
    }
    batch_ts_[i] = walk_has_ts_ ? walk_ts_ : kNoTimestamp;
    ++i;
  }
  doc_ = od::document_reference();
  if (ok && i == n && stream.truncated_bytes() == 0) {
    for (size_t k = 0; k < n; ++k) {
      Event& e = events[k];
      e.flags &= ~kEventInvalid;
      if (batch_ts_[k] != kNoTimestamp) {
        e.timestamp_ms = batch_ts_[k];
        e.flags |= kEventHasTimestamp;
      } else if (!(e.flags & kEventHasTimestamp)) {
        e.timestamp_ms = batch->received_ms;
      }
    }
    ++batches_at_once_;
    return true;
  }
  // Undo what the walk wrote; the event-by-event pass starts from scratch.
  for (size_t k = 0; k < std::min(i + 1, n); ++k) {
    Event& e = events[k];
    e.cut_begin = e.cut_end = 0;
    e.meta_id = e.meta_pipeline = e.meta_op_type = e.meta_index = Span{};
  }
  batch->ResizeFields(field_count_);
  return false;
}

// The key of `field` without copying: a view of the raw bytes when the key has
// no escapes (nearly always), else the unescaped copy in the parser's buffer.
static bool KeyOf(od::field& field, const char* end, std::string_view* key, const char** raw_start) {
  const char* p = field.key().raw();
  *raw_start = p;
  // Keys are short: a plain loop beats a memchr call (BM_EventParse).
  const char* q = p;
  while (q < end && *q != '"' && *q != '\\') ++q;
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
    od::field field;
    if (std::move(field_result).get(field) != simdjson::SUCCESS) return false;
    std::string_view key;
    const char* raw_key;
    if (!KeyOf(field, end, &key, &raw_key)) return false;
    Span* target = nullptr;
    if (key == "_id") target = &e->meta_id;
    else if (key == "pipeline") target = &e->meta_pipeline;
    else if (key == "op_type") target = &e->meta_op_type;
    else if (key == "index") target = &e->meta_index;
    if (!target) continue;
    od::value& fv = field.value();
    od::json_type t;
    if (fv.type().get(t) != simdjson::SUCCESS || t != od::json_type::string) continue;
    std::string_view tok = TrimToken(fv.raw_json_token());
    if (tok.size() >= 2) *target = SpanOf(*batch, tok.substr(1, tok.size() - 2));
  }
  return true;
}

bool EventParser::StoreValue(od::value v, const PathNode& node, Batch* batch, size_t event, int depth) {
  od::json_type t;
  if (v.type().get(t) != simdjson::SUCCESS) return false;
  if (node.index < 0) {
    // A prefix of a wanted path: descend.
    if (t != od::json_type::object || depth >= 16) return true;
    od::object child;
    if (v.get_object().get(child) != simdjson::SUCCESS) return false;
    return Walk(child, batch, event, node, depth + 1);
  }
  FieldValue& fv = batch->field(event, node.index);
  std::string_view tok = TrimToken(v.raw_json_token());
  switch (t) {
    case od::json_type::string:
      if (tok.size() < 2) return false;
      fv.kind = FieldKind::kString;
      fv.span = SpanOf(*batch, tok.substr(1, tok.size() - 2));
      fv.escaped = std::memchr(tok.data() + 1, '\\', tok.size() - 2) != nullptr;
      break;
    case od::json_type::number:
      fv.kind = FieldKind::kNumber;
      fv.span = SpanOf(*batch, tok);
      break;
    case od::json_type::boolean:
      fv.kind = tok == "true" ? FieldKind::kTrue : FieldKind::kFalse;
      break;
    case od::json_type::null:
      fv.kind = FieldKind::kNull;
      break;
    default:
      fv.kind = FieldKind::kComposite;
      break;
  }
  return true;
}

bool EventParser::Walk(od::object obj, Batch* batch, size_t event, const PathNode& node, int depth) {
  Event& e = batch->events()[event];
  const char* base = batch->arena().data() + e.offset;
  const char* end = base + e.length;
  // Nothing registered (the default): only @metadata and @timestamp matter,
  // so a key whose first byte is neither '@' nor an escape is not read
  // further (KeyOf was 3.6% of the Beats profile).
  const bool only_at_keys = node.children.empty();
  for (auto field_result : obj) {
    od::field field;
    if (std::move(field_result).get(field) != simdjson::SUCCESS) return false;
    if (only_at_keys) {
      const char first = *field.key().raw();
      if (first != '@' && first != '\\') continue;
    }
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
        if (std::memchr(ts.data(), '\\', ts.size()) != nullptr && field.value().get_string().get(ts) != simdjson::SUCCESS) {
          continue;
        }
        walk_has_ts_ = ParseTimestamp(ts, &walk_ts_);
        continue;
      }
    }
    const PathNode* child = Child(node, key);
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
  const bool walked = Walk(obj, batch, i, root_, 0);
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
