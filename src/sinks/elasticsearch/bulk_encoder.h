#pragma once
// Encoding of `_bulk` request bodies and decoding of their responses.
//
// The body is NDJSON: per event one action line, then the document bytes
// exactly as received minus the @metadata member (DocHead + DocTail), copied
// once. No per-event allocation: everything is appended to a reused string.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "absl/status/status.h"
#include "pipeline/batch.h"
#include "sinks/elasticsearch/config.h"

namespace sluice {

class BulkEncoder {
 public:
  explicit BulkEncoder(const EsSinkConfig* cfg);

  // Appends event `i` of `b` (action line + document + "\n") to `body`.
  // Returns true if the action is `create` (a 409 then means "already there").
  //
  // The action follows Beats: @metadata._id sets `_id` and makes the action
  // `create` unless @metadata.op_type is "index"; op_type create/index wins
  // over the configured action; @metadata.pipeline (lower-cased) wins over the
  // `pipeline` option; @metadata.index replaces the `index` pattern.
  bool Append(const Batch& b, size_t i, std::string* body) const;

  // An upper bound of the action line's size, to decide when a body is full.
  static constexpr size_t kActionLineEstimate = 256;

 private:
  // Appends the action line of event `i` (without the line feed); returns
  // true for `create`.
  bool AppendActionLine(const Batch& b, size_t i, std::string* body) const;

  const EsSinkConfig* cfg_;
  // The action line of an event without @metadata and without an automatic
  // _id depends only on its day: cached per thread (BM_BulkEncode), under
  // this encoder's id (unique in the process, unlike its address).
  const bool day_only_;
  const uint64_t id_;
};

// The deterministic `_id` of event `i` (document_id: auto): 32 hex digits, a
// 128-bit hash (two 64-bit hashes with different seeds) of the event's origin —
// `agent.id`, `log.file.path` and `log.offset` for Filebeat events — or else of
// the event's raw bytes. The same event replayed gets the same id. Not
// cryptographic: two different events colliding would merge into one document
// (about 2^-64 for a billion events).
std::string DocumentIdFor(const Batch& b, size_t i, const EsSinkConfig& cfg);

// One item of a bulk response.
struct BulkItemResult {
  int status = 0;
  std::string error;  // "type: reason" for failures, else empty
};

// Whether `body` is a bulk response that says every item succeeded in its
// first member (`{"errors":false,` or `{"errors":false}`, compact, as
// Elasticsearch writes it) and ends its root object. Such a body is not
// parsed further: its items are not read, as before, and their bytes are not
// scanned either (no check for unclosed strings or bad UTF-8 past the first
// member). False says nothing: the body must be parsed.
bool BulkResponseAllSucceeded(std::string_view body);

// Parses a `_bulk` response body (with or without filter_path). The string's
// capacity is grown for simdjson's padding. When `errors` is false the items
// are not read (*items stays empty, every item succeeded). Otherwise *items
// gets one entry per item in order.
class BulkResponseParser {
 public:
  absl::Status Parse(std::string* body, bool* errors, std::vector<BulkItemResult>* items);
  // The same without the fast path (BulkResponseAllSucceeded): every body through simdjson.
  absl::Status ParseAll(std::string* body, bool* errors, std::vector<BulkItemResult>* items);

 private:
  simdjson::ondemand::parser parser_;
};

}  // namespace sluice
