#pragma once
// Parses the events of a batch once, with simdjson On-Demand: checks that each
// event is one JSON object, reads @timestamp and @metadata, finds the byte
// range of the @metadata member (cut from the document sent downstream), and
// extracts the registered field paths. Only what is asked for is looked at.
//
// Nested objects and dotted keys both work: `event.dataset` is found in
// {"event":{"dataset":"x"}} and in {"event.dataset":"x"}.
// Members are taken in document order, so of duplicate keys the last wins.
// Where a path and a prefix of it are both registered ("a", "a.b"), an object
// under "a" is stored as "a" and not searched: "a.b" then comes only from
// dotted keys such as {"a.b":1}.
//
// An event in the compact form Filebeat writes (no white space between
// tokens, keys without escapes, no byte below 0x20, valid UTF-8, brackets
// that match) is read straight from its bytes, top level and nested objects
// on wanted paths alike (ScanEvent, ScanObject): no stage 1, no On-Demand
// walk. Any other form is left to simdjson: the batch's remaining events go
// through one stage 1 and an On-Demand walk of the top level, a nested object
// on a wanted path that is not compact through On-Demand too, all with the
// same result (tests/pipeline/event_parser_diff_test.cc). Events whose bytes
// between their values repeat a recent event's (Beats' fixed key order) are
// read by that event's shape: per value one compare and one pass over it
// (see Shape). A key is read only if its first
// byte may start a wanted key (or is '@' at the top level, or a backslash):
// other keys are not unescaped, so an invalid escape in one of them is not
// an error, as when no field is registered.

#include <memory>
#include <string>
#include <vector>

#include <simdjson.h>

#include "pipeline/batch.h"

namespace sluice {

struct ScanQuotes;  // event_parser.cc

class EventParser {
 public:
  explicit EventParser(const std::vector<std::string>& field_paths);

  // Parses every event of `batch`. Events that are not JSON objects get
  // kEventInvalid and an error message. Not thread-safe: one parser per worker.
  //
  // Events laid out back to back in the arena (a Lumberjack window) go
  // through simdjson's iterate_many: stage 1 over 128 KiB of the batch at a
  // time instead of once per event; each
  // document must then start exactly where its event starts and there must be
  // one document per event, else (an invalid event, a pretty-printed one) the
  // batch is parsed event by event, with the same result as if it had been
  // parsed that way from the start.
  void ParseBatch(Batch* batch);
  // Parses one event (index `i`); returns false if it is invalid.
  bool ParseEvent(Batch* batch, size_t i);

  // Batches of which no event was parsed alone (by the scanner or one stage
  // 1), and events the scanner decided (for tests).
  uint64_t batches_at_once() const { return batches_at_once_; }
  uint64_t events_scanned() const { return events_scanned_; }
  // Off: every event goes through simdjson (tests compare both ways).
  void set_scan_events(bool on) { scan_events_ = on; }
  // Off: the scanner reads every event member by member, never by a shape
  // (tests compare both ways). Events the scanner read by a shape (for tests).
  void set_shapes(bool on) { shapes_on_ = on; }
  uint64_t events_by_shape() const { return events_by_shape_; }

 private:
  // Parses events [from, size) with one stage 1. False: nothing was decided
  // (what the walk wrote is reset) and the caller parses them event by event.
  bool ParseBatchAtOnce(Batch* batch, size_t from);
  // Decides event i straight from its bytes if it is in the compact form and
  // valid: true, with everything stored exactly as ParseEvent would have.
  // False: nothing decided, nothing left changed (the event's fields reset).
  bool ScanEvent(Batch* batch, size_t i);
  // A trie of wanted paths over key names. "a.b.c" is reachable through every
  // split of its components ("a"→"b"→"c", "a.b"→"c", "a"→"b.c", "a.b.c"), so
  // nested objects and dotted keys both match. Built as PathNode, then laid
  // out flat (Node, KeyEntry) for the walk.
  struct PathNode {
    std::string key;
    int index = -1;  // field index when a wanted path ends here
    std::vector<PathNode> children;
  };
  static void Insert(PathNode* node, const std::vector<std::string>& parts, size_t from, int index);
  // One child of a flat node: its key's length and first and last 8 bytes
  // (zero past the length) decide look-ups of keys up to 16 bytes without a memcmp.
  struct KeyEntry {
    uint64_t head = 0;
    uint64_t tail = 0;  // bytes [len - 8, len) when len > 8, else 0
    uint32_t len = 0;
    uint32_t node = 0;  // index into nodes_
  };
  struct Node {
    int index = -1;             // field index when a wanted path ends here
    uint32_t first_child = 0;   // children: keys_[first_child, first_child + child_count)
    uint32_t child_count = 0;
    // hashed: the child named k is keys_[slots_[first_slot + Slot(k)] - 1], if any.
    bool hashed = false;
    uint8_t shift = 0;
    uint32_t first_slot = 0;
    uint64_t mult = 0;
    // Bit c set: some child key starts with byte c, or c is '\\' (an escaped
    // key may unescape to one), or (root) '@'. Keys starting otherwise are
    // passed over without reading them.
    uint64_t first_bytes[4] = {};
    bool MayStartWith(unsigned char c) const { return (first_bytes[c >> 6] >> (c & 63)) & 1; }
  };
  uint32_t Flatten(const PathNode& p, bool root);
  // The key met last time in each place (the first kMemoWidth members) of an
  // object of a node, and what it decided: a key equal to the one in its
  // place (nearly always: Beats writes the same keys in the same order) is
  // taken with one 16-byte compare instead of a search for its end and a
  // hash look-up.
  struct KeyMemo {
    char bytes[16] = {};  // the key, its closing quote and ':'
    uint32_t mask = 0;    // bit i: bytes[i] is compared; 0: nothing memorized
    uint32_t len = 0;
    int32_t child = -1;   // node index, -1: not wanted
    int32_t special = 0;  // at the root: 1 @metadata, 2 @timestamp
  };
  static constexpr size_t kMemoWidth = 16;
  // The key at `key` (past its opening quote) of member `k` of an object of
  // node `node_id` in the compact form: its closing quote (a ':' and a value
  // follow), or nullptr; what Walk makes of it in *child and *special.
  const char* MemberKey(const char* key, const char* end, const ScanQuotes& qs, uint32_t node_id, size_t k,
                        const Node** child, int* special);
  // The child of `node` named `key` (unescaped), or nullptr. `padded`: at
  // least 8 bytes may be read from key.data().
  const Node* Child(const Node& node, std::string_view key, bool padded) const;
  static size_t Slot(const Node& node, uint64_t head, uint64_t tail, size_t len);

  // Walks a top-level object (depth 0) or a nested one. Sets walk_ts_ /
  // walk_has_ts_ from @timestamp; the caller stores them in the event.
  bool Walk(simdjson::ondemand::object& obj, Batch* batch, size_t event, const Node& node, int depth);
  bool StoreValue(simdjson::ondemand::value& v, const Node& node, Batch* batch, size_t event, int depth);
  // Reads the nested object at p (its '{') straight from the bytes when it is
  // in the compact form Filebeat writes; returns the position past it, or
  // nullptr (nothing decided: walk it with On-Demand).
  const char* ScanObject(const char* p, const char* end, const ScanQuotes& qs, const Node& node, Batch* batch,
                         size_t event, int depth);
  // Past the member value at v in the compact form, storing it if `child`
  // wants it (a field, or an object to read with ScanObject); nullptr if it
  // is not compact.
  const char* ScanValue(const char* v, const char* end, const ScanQuotes& qs, const Node* child, Batch* batch,
                        size_t event, int depth);
  // Stores the value [v, after) (passed over by the scanner, not read as an
  // object) in field `field`, if any: as ScanValue does.
  static void StoreScanned(const char* v, const char* after, int field, const ScanQuotes& qs, Batch* batch,
                           size_t event);

  // A shape: what the scanner made of a compact event, as the bytes between
  // the values it stored or passed over (keys, ':', ',', brackets of the
  // objects it read) and what it did with each value. An event whose bytes
  // between its values are the same (Beats writes the same keys in the same
  // order, event after event) is read by its shape: per value one compare
  // of the bytes before it and one pass over it, with the same checks as the
  // scanner; at the first difference the scanner reads it member by member
  // and its shape replaces the oldest.
  enum ShapeOp : uint8_t {
    kShapeString,
    kShapeNumber,
    kShapeOther,
    kShapeTimestamp,
    kShapeMetadata,
    kShapeMetadataSame,  // no value: the literal ends with an @metadata object that stored nothing
    kShapeEnd,
  };
  struct ShapeStep {
    uint32_t lit = 0;  // the bytes before the value: Shape::bytes[lit, lit + lit_len)
    uint32_t lit_len = 0;
    int32_t field = -1;  // the value's field, -1: passed over; kShapeMetadataSame: the object's length
    ShapeOp op = kShapeEnd;
    // An object here would be read (a prefix of a wanted path): the scanner
    // is left to read it.
    bool no_object = false;
  };
  struct Shape {
    std::vector<ShapeStep> steps;  // the last one kShapeEnd
    std::string bytes;  // padded: 32 bytes may be read from any literal
  };
  // A value ScanEvent passed over or stored, while it records.
  struct ShapeMark {
    const char* v;
    const char* after;
    int32_t field;
    ShapeOp op;
    bool no_object;
  };
  static constexpr size_t kShapes = 4;
  static constexpr size_t kMaxShapeValues = 256;
  static constexpr ptrdiff_t kMaxMetadataBytes = 256;  // longer: read each time
  void RecordValue(const char* v, const char* after, int field, ShapeOp op, bool no_object = false) {
    if (recording_) shape_marks_.push_back(ShapeMark{v, after, field, op, no_object});
  }
  // Event i (its bytes [base, end), checked by CompactBytes) by `shape`:
  // true with everything stored as the scanner stores it, false with
  // nothing decided (the caller restores the event).
  bool ScanByShape(const Shape& shape, Batch* batch, size_t i, const char* base, const char* end,
                   const ScanQuotes& qs, bool* has_ts, int64_t* ts_ms);
  void AddShape(const char* base, const char* end);
  bool ReadMetadata(simdjson::ondemand::value v, Batch* batch, Event* e);
  // RFC 3339 → ms, with a fast path for the minute of the previous one.
  bool ParseTimestamp(std::string_view ts, int64_t* ms);
  static void CutMetadata(const char* key_quote, const char* after, const char* base, Event* e);

  size_t field_count_;
  std::vector<Node> nodes_;  // nodes_[0] is the root
  std::vector<KeyEntry> keys_;
  std::vector<uint32_t> slots_;  // 0: empty, else 1 + index into keys_
  std::vector<std::string> key_names_;  // parallel to keys_ (the bytes past the first 8)
  std::vector<KeyMemo> memo_;  // kMemoWidth per node
  simdjson::ondemand::parser parser_;
  simdjson::ondemand::document_reference doc_;  // the document being walked
  int64_t walk_ts_ = 0;
  char ts_minute_[16] = {};  // "2026-11-21T05:30" of the last Beats-form @timestamp
  int64_t ts_minute_ms_ = 0;
  bool ts_minute_valid_ = false;
  bool walk_has_ts_ = false;
  uint64_t batches_at_once_ = 0;
  uint64_t events_scanned_ = 0;
  bool scan_events_ = true;
  size_t stream_capacity_ = 0;  // the parser's capacity for iterate_many (see ParseBatchAtOnce)
  std::vector<int64_t> batch_ts_;  // @timestamp per event in ParseBatchAtOnce, applied on success
  std::string scratch_;
  std::vector<uint64_t> quote_bits_;  // the event ScanEvent reads (see ScanQuotes)
  std::vector<Shape> shapes_;  // up to kShapes
  size_t shape_last_ = 0;      // the shape that read the last event
  size_t shape_next_ = 0;      // the one a new shape replaces
  std::vector<ShapeMark> shape_marks_;
  bool recording_ = false;
  bool shapes_on_ = true;
  // In the batch being parsed: events read by a shape, and events no shape
  // read. Once misses outnumber hits past kShapeMissesPerBatch (a stream of
  // more shapes than kShapes, or none), the rest of the batch is read member
  // by member without trying shapes or recording them.
  static constexpr uint32_t kShapeMissesPerBatch = 8;
  uint32_t shape_hits_ = 0;
  uint32_t shape_misses_ = 0;
  uint64_t events_by_shape_ = 0;
};

// Given `p` at the opening quote of a member's key inside a valid JSON object,
// returns the position just past the member's value. Used to cut @metadata.
const char* SkipJsonMember(const char* p, const char* end);

}  // namespace sluice
