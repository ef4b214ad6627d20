#pragma once
// `type: elasticsearch`: options, their validation, and the compiled
// event templates (`index: "logs-%{[event][dataset]}-%{+yyyy.MM.dd}"`).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/batch.h"
#include "pipeline/component.h"

namespace sluice {

// A string with Logstash sprintf references, compiled once:
//   %{[event][dataset]} or %{event.dataset}  a field of the event (registered with
//                                            the pipeline's FieldRegistry);
//   %{[@metadata][_id|pipeline|op_type|index]}  the @metadata values the pipeline reads;
//   %{+yyyy.MM.dd}                           the event's @timestamp (UTC), Joda-style
//                                            letters: yyyy YYYY yy xxxx ww MM dd HH mm ss SSS.
// A field that is missing (or an object) is left as its reference text, like Logstash.
class EventTemplate {
 public:
  static absl::StatusOr<EventTemplate> Compile(std::string_view text, FieldRegistry* fields);

  // Appends the value for event `i` as JSON string content (escaped, without
  // quotes). ASCII letters are lower-cased when `lowercase` (index names).
  // No allocation.
  void AppendJson(const Batch& b, size_t i, bool lowercase, std::string* out) const;
  // For tests: the value as plain text (unescaped is not needed: tests use plain values).
  std::string Render(const Batch& b, size_t i, bool lowercase) const;

  // The value depends on nothing but the day of the event's time (literals
  // and date parts no finer than a day), so it can be reused for every event
  // of that day.
  bool DayOnly() const;

  const std::string& text() const { return text_; }
  bool empty() const { return text_.empty(); }

 private:
  enum class PartKind : uint8_t { kLiteral, kField, kMetaId, kMetaPipeline, kMetaOpType, kMetaIndex, kDate };
  enum class DateToken : uint8_t { kLiteral, kYear4, kYear2, kWeekYear4, kWeek2, kMonth2, kDay2, kHour2, kMinute2,
                                   kSecond2, kMilli3 };
  struct DatePart {
    DateToken token;
    std::string literal;  // JSON-escaped, for kLiteral
  };
  struct Part {
    PartKind kind;
    std::string text;  // kLiteral: JSON-escaped text; else the reference as written (escaped)
    int field = -1;
    std::vector<DatePart> date;
  };
  static absl::Status CompileDate(std::string_view fmt, Part* part);
  static void AppendDate(const Part& p, int64_t ms, std::string* out);

  std::string text_;
  std::vector<Part> parts_;
};

struct EsHost {
  bool tls = false;
  std::string host;
  std::string port;
  std::string path_prefix;  // "" or "/prefix" (no trailing slash)
  std::string url;          // for logs
};

struct EsSinkConfig {
  std::string id = "elasticsearch";
  std::vector<EsHost> hosts;
  EventTemplate index;
  EventTemplate pipeline;  // empty: none
  bool data_stream = false;
  bool action_create = false;  // action: create (else index)

  int max_in_flight = 4;
  size_t batch_max_events = 4096;
  uint64_t batch_max_bytes = 10ull << 20;
  int64_t flush_interval_ms = 1000;
  // An undersized request is also sealed once no event was added to it for
  // this long (Logstash's pipeline.batch.delay): a sender waiting for its ACK
  // sends nothing more, so waiting on for flush_interval only delays it.
  // 0: only flush_interval.
  int64_t flush_idle_ms = 50;
  int compression_level = 0;  // 0: no gzip
  uint64_t max_queue_bytes = 64ull << 20;
  int64_t timeout_ms = 60'000;
  int64_t retry_initial_interval_ms = 100;
  int64_t retry_max_interval_ms = 60'000;

  std::string authorization;  // the Authorization header value, or ""

  // `document_id: auto` (the default with the persisted queue): an event
  // without @metadata._id gets a deterministic `_id` (DocumentIdFor in
  // bulk_encoder.h) and the `create` action, so a replay after a crash is
  // answered 409 (already there) instead of indexing a duplicate.
  bool auto_document_id = false;
  int agent_id_field = -1, file_path_field = -1, offset_field = -1;  // FieldRegistry indices

  std::string tls_ca;
  bool tls_verify = true;
  std::string tls_certificate, tls_key;
};

// Reads and validates the options (errors go to cfg.errors()); calls cfg.Finish().
std::shared_ptr<const EsSinkConfig> ParseEsSinkConfig(ConfigMap& cfg, ComponentContext& ctx);

}  // namespace sluice
