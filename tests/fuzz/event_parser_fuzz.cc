// libFuzzer target for the event parser: events read straight from their
// bytes (the compact-form scanner) must come out as simdjson's On-Demand path
// makes them: valid or not, the @metadata cut, the @metadata fields,
// @timestamp, and every extracted field's kind and span. The input is one or
// more events separated by '\n', parsed each alone and all in one batch (a
// Lumberjack window); its first byte picks the field set.
// Corpus: tests/fuzz/corpus/event_parser.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_events.h"
#include "pipeline/batch.h"
#include "pipeline/event_parser.h"

namespace {

using sluice::Batch;
using sluice::Event;
using sluice::EventParser;
using sluice::FieldKind;
using sluice::FieldValue;
using sluice::Span;

// The 30-rule bench set's fields, the shop pack's kind (dotted and nested
// paths, prefixes of each other) and a few that collide in length and first bytes.
const std::vector<std::vector<std::string>> kFieldSets = {
    {},
    {"service.name", "host.name", "agent.name", "log.file.path", "log.level", "log.offset",
     "http.response.status_code", "event.duration_ms", "input.type", "message"},
    {"a", "a.b", "a.b.c", "order.id", "order.status", "labels.stage", "file.size", "x.y"},
    {"abcdefgh", "abcdefghi", "abcdefghijklmnopq", "abcdefghijklmnopr", "k", "kk.k", "@x"},
};

// Everything parsing decided for event i, spans relative to the event. The
// error text is left out: simdjson's reason may differ while the verdict agrees.
std::string Outcome(const Batch& b, size_t i) {
  const Event& e = b.events()[i];
  if (e.flags & sluice::kEventInvalid) return "invalid";
  auto rel = [&](Span s) {
    return s.empty() ? std::string("-") : std::to_string(s.off - e.offset) + "+" + std::to_string(s.len);
  };
  std::string out = "valid ts=" + std::to_string(e.timestamp_ms) + " flags=" + std::to_string(e.flags) +
                    " cut=" + std::to_string(e.cut_begin) + "-" + std::to_string(e.cut_end) +
                    " id=" + rel(e.meta_id) + " pipeline=" + rel(e.meta_pipeline) + " op=" + rel(e.meta_op_type) +
                    " index=" + rel(e.meta_index);
  for (size_t f = 0; f < b.field_count(); ++f) {
    const FieldValue& v = b.field(i, f);
    out += " f" + std::to_string(f) + "=" + std::to_string(static_cast<int>(v.kind)) + (v.escaped ? "e" : "") + ":" +
           (v.kind == FieldKind::kString || v.kind == FieldKind::kNumber ? rel(v.span) : "");
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static std::vector<std::unique_ptr<EventParser>> fast, slow;
  if (fast.empty()) {
    for (const auto& fields : kFieldSets) {
      fast.push_back(std::make_unique<EventParser>(fields));
      slow.push_back(std::make_unique<EventParser>(fields));
      slow.back()->set_scan_events(false);
    }
  }
  const size_t set = data[0] % kFieldSets.size();
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);

  const std::vector<std::string_view> events = sluice::fuzz::SplitEvents(in, 16);
  // Each event alone: the scanner and simdjson must agree exactly.
  auto parse = [&](EventParser* parser, size_t from, size_t to) {
    Batch batch;
    batch.received_ms = 1'795'000'000'000;
    for (size_t i = from; i < to; ++i) batch.Append(events[i]);
    parser->ParseBatch(&batch);
    std::vector<std::string> out;
    for (size_t i = 0; i < to - from; ++i) out.push_back(Outcome(batch, i));
    return out;
  };
  auto fail = [&](size_t i, const char* how, const std::string& x, const std::string& y) {
    std::fprintf(stderr, "event %zu of %zu, field set %zu, %s: %.*s\n  scanner:  %s\n  simdjson: %s\n", i,
                 events.size(), set, how, static_cast<int>(events[i].size()), events[i].data(), x.c_str(),
                 y.c_str());
    std::abort();
  };
  std::vector<std::string> alone;
  for (size_t i = 0; i < events.size(); ++i) {
    const std::string x = parse(fast[set].get(), i, i + 1)[0], y = parse(slow[set].get(), i, i + 1)[0];
    if (x != y) fail(i, "alone", x, y);
    alone.push_back(x);
  }
  // All in one batch (a window). simdjson's verdict on an invalid event may
  // depend on the events after it there (one stage 1 over the batch), and the
  // scanner leaves the rest of a batch to one stage 1 from its fifth event
  // that is not compact on. So an event's outcome in the batch must be its own
  // alone or simdjson's for some tail of the batch that holds it.
  const std::vector<std::string> a = parse(fast[set].get(), 0, events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    if (a[i] == alone[i]) continue;
    std::string whole;
    bool seen = false;
    for (size_t from = 0; from <= i && !seen; ++from) {
      const std::string y = parse(slow[set].get(), from, events.size())[i - from];
      if (from == 0) whole = y;
      seen = y == a[i];
    }
    if (!seen) fail(i, "in a batch", a[i], whole);
  }
  return 0;
}
