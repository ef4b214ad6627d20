// libFuzzer target for the syslog input's byte handling: RFC 6587 framing (fed
// in two chunks, as reads split it), per-message format detection, RFC 5424 /
// RFC 3164 parsing and the ECS writer. Every event written must be one valid
// JSON object. Corpus: tests/fuzz/corpus/syslog (real wire samples).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "ingest/syslog/ecs_writer.h"
#include "ingest/syslog/framing.h"
#include "ingest/syslog/syslog_parser.h"

using namespace sluice::syslog;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static simdjson::dom::parser json;
  static Rfc3164Clock clock = [] {
    Rfc3164Clock c(absl::UTCTimeZone());
    c.SetNow(1'795'000'000'000'000);  // 2026-11-18
    return c;
  }();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t split = size ? data[0] % (size + 1) : 0;
  const size_t max = 64 + (size ? data[size - 1] : 0);

  FrameSplitter splitter(max);
  std::string out;
  auto on_frame = [&](std::string_view frame, bool truncated) {
    if (frame.size() > max) std::abort();
    SyslogMessage m;
    ParseSyslog(frame, clock, &m);
    EcsFrame f{StripTrailer(frame), "192.0.2.1", 0, truncated};
    out.clear();
    AppendEcsEvent(m, f, true, &out);
    simdjson::dom::element doc;
    if (json.parse(out).get(doc) || !doc.is_object()) std::abort();
    return true;
  };
  std::string buf(in.substr(0, split));
  buf.erase(0, splitter.Split(buf, on_frame));
  buf.append(in.substr(split));
  buf.erase(0, splitter.Split(buf, on_frame));
  if (buf.size() > splitter.max_pending()) std::abort();
  splitter.Finish(buf, on_frame);

  // The whole input as one datagram.
  SyslogMessage m;
  ParseSyslog(in, clock, &m);
  out.clear();
  AppendEcsEvent(m, EcsFrame{in, "::1", 0, false}, true, &out);
  simdjson::dom::element doc;
  if (json.parse(out).get(doc) || !doc.is_object()) std::abort();
  return 0;
}
