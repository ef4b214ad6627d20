#pragma once
// Parses the events of a batch once, with simdjson On-Demand: checks that each
// event is one JSON object, reads @timestamp and @metadata, finds the byte
// range of the @metadata member (cut from the document sent downstream), and
// extracts the registered field paths. Only what is asked for is looked at.
//
// Nested objects and dotted keys both work: `event.dataset` is found in
// {"event":{"dataset":"x"}} and in {"event.dataset":"x"}.

#include <memory>
#include <string>
#include <vector>

#include <simdjson.h>

#include "pipeline/batch.h"

namespace sluice {

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

  // Batches that went through one stage 1 (for tests).
  uint64_t batches_at_once() const { return batches_at_once_; }

 private:
  // Parses the whole batch with one stage 1. False: nothing was decided (what the
  // walk wrote is reset) and the caller parses event by event.
  bool ParseBatchAtOnce(Batch* batch);
  // A trie of wanted paths over key names. "a.b.c" is reachable through every
  // split of its components ("a"→"b"→"c", "a.b"→"c", "a"→"b.c", "a.b.c"), so
  // nested objects and dotted keys both match.
  struct PathNode {
    std::string key;
    int index = -1;  // field index when a wanted path ends here
    std::vector<PathNode> children;
  };
  static void Insert(PathNode* node, const std::vector<std::string>& parts, size_t from, int index);
  static const PathNode* Child(const PathNode& node, std::string_view key);

  // Walks a top-level object (depth 0) or a nested one. Sets walk_ts_ /
  // walk_has_ts_ from @timestamp; the caller stores them in the event.
  bool Walk(simdjson::ondemand::object obj, Batch* batch, size_t event, const PathNode& node, int depth);
  bool StoreValue(simdjson::ondemand::value v, const PathNode& node, Batch* batch, size_t event, int depth);
  bool ReadMetadata(simdjson::ondemand::value v, Batch* batch, Event* e);
  // RFC 3339 → ms, with a fast path for the minute of the previous one.
  bool ParseTimestamp(std::string_view ts, int64_t* ms);
  static void CutMetadata(const char* key_quote, const char* after, const char* base, Event* e);

  size_t field_count_;
  PathNode root_;
  simdjson::ondemand::parser parser_;
  simdjson::ondemand::document_reference doc_;  // the document being walked
  int64_t walk_ts_ = 0;
  char ts_minute_[16] = {};  // "2026-11-21T05:30" of the last Beats-form @timestamp
  int64_t ts_minute_ms_ = 0;
  bool ts_minute_valid_ = false;
  bool walk_has_ts_ = false;
  uint64_t batches_at_once_ = 0;
  size_t stream_capacity_ = 0;  // the parser's capacity for iterate_many (see ParseBatchAtOnce)
  std::vector<int64_t> batch_ts_;  // @timestamp per event in ParseBatchAtOnce, applied on success
  std::string scratch_;
};

// Given `p` at the opening quote of a member's key inside a valid JSON object,
// returns the position just past the member's value. Used to cut @metadata.
const char* SkipJsonMember(const char* p, const char* end);

}  // namespace sluice
