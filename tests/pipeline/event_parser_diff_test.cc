// EventParser's field extraction against a plain reference: simdjson's DOM
// and a per-path recursive search, over many generated events (nesting,
// dotted keys, escaped keys and values, numbers, null, arrays, duplicate keys,
// unicode, white space, deep nesting) and several field sets.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "../../bench/loadgen_event.h"
#include "common/json_util.h"
#include "pipeline/event_parser.h"

namespace sluice {
namespace {

// What the reference found for one path.
struct Want {
  FieldKind kind = FieldKind::kMissing;
  std::string text;  // strings: unescaped content; numbers: the value as a double, printed
};

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> parts;
  size_t from = 0;
  for (size_t dot; (dot = path.find('.', from)) != std::string::npos; from = dot + 1) {
    parts.push_back(path.substr(from, dot - from));
  }
  parts.push_back(path.substr(from));
  return parts;
}

std::string Join(const std::vector<std::string>& parts, size_t from, size_t to) {
  std::string s;
  for (size_t i = from; i < to; ++i) {
    if (i > from) s += '.';
    s += parts[i];
  }
  return s;
}

std::string NumberText(double d) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

// The documented semantics, written plainly for one path: in document order,
// a member whose key is the next one or more components (joined by dots)
// either ends the path (its value is taken; a later match overwrites) or, if
// it is an object, is searched for the rest. A prefix that is itself a
// registered path is not searched further (the parser stores it there);
// objects deeper than 16 levels are not searched; the top level's @metadata
// and @timestamp are never fields.
void Find(simdjson::dom::object obj, const std::vector<std::string>& parts, size_t from,
          const std::vector<std::string>& registered, int depth, Want* out) {
  for (auto [key, value] : obj) {
    if (depth == 0 && (key == "@metadata" || key == "@timestamp")) continue;
    for (size_t to = from + 1; to <= parts.size(); ++to) {
      if (key != Join(parts, from, to)) continue;
      if (to == parts.size()) {
        switch (value.type()) {
          case simdjson::dom::element_type::STRING:
            out->kind = FieldKind::kString;
            out->text = std::string(value.get_string().value());
            break;
          case simdjson::dom::element_type::INT64:
          case simdjson::dom::element_type::UINT64:
          case simdjson::dom::element_type::DOUBLE:
            out->kind = FieldKind::kNumber;
            out->text = NumberText(value.get_double().value());
            break;
          case simdjson::dom::element_type::BOOL:
            out->kind = value.get_bool().value() ? FieldKind::kTrue : FieldKind::kFalse;
            out->text.clear();
            break;
          case simdjson::dom::element_type::NULL_VALUE:
            out->kind = FieldKind::kNull;
            out->text.clear();
            break;
          default:
            out->kind = FieldKind::kComposite;
            out->text.clear();
            break;
        }
        continue;
      }
      const std::string prefix = Join(parts, 0, to);
      bool prefix_registered = false;
      for (const auto& r : registered) prefix_registered |= r == prefix;
      if (prefix_registered || !value.is_object() || depth >= 16) continue;
      Find(value.get_object().value(), parts, to, registered, depth + 1, out);
    }
  }
}

// What the parser found, in the reference's terms.
Want Got(const Batch& b, size_t event, size_t field) {
  const FieldValue& v = b.field(event, field);
  Want w;
  w.kind = v.kind;
  if (v.kind == FieldKind::kString) {
    const std::string_view raw = b.View(v.span);
    EXPECT_EQ(v.escaped, raw.find('\\') != std::string_view::npos) << raw;
    EXPECT_TRUE(UnescapeJsonString(raw, &w.text)) << raw;
  } else if (v.kind == FieldKind::kNumber) {
    w.text = NumberText(std::strtod(std::string(b.View(v.span)).c_str(), nullptr));
  }
  return w;
}

// Random events built from a small vocabulary so that paths, splits and
// duplicates collide often.
class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  std::string Event() {
    // A line feed sends the whole batch event by event (ParseEvent minifies
    // the event): only now and then.
    line_feeds_ = Chance(3);
    std::string s;
    Object(&s, 0, true);
    return s;
  }
  // The compact form Filebeat writes (no white space), which EventParser
  // reads without simdjson; now and then with Beats' @metadata and @timestamp.
  std::string CompactEvent() {
    compact_ = true;
    // Half of them without a backslash (the scanner then finds string ends
    // from a bit map of the event's quotes).
    no_escapes_ = Chance(50);
    line_feeds_ = false;
    std::string s;
    Object(&s, 0, true);
    compact_ = false;
    no_escapes_ = false;
    if (Chance(50)) {
      static const char* const kMeta[] = {
          R"("@metadata":{"beat":"filebeat","type":"_doc","version":"8.15.0"},)",
          R"("@metadata":{"_id":"id-1","pipeline":"p\"1","op_type":"create","index":"logs"},)",
          R"("@metadata":{"_id":7,"index":["x"],"pipeline":null,"op_type":{"a":"b"}},)",
          R"("@metadata":{},)",
          R"("@metadata":"flat",)",
          R"("@timestamp":"2026-11-21T05:30:59.285Z",)",
          R"("@timestamp":"2026-11-21T05:31:00.000Z",)",
          R"("@timestamp":"2026-11-21T05:30:61.285Z",)",
          R"("@timestamp":"yesterday",)",
          R"("@timestamp":12,)",
      };
      s.insert(1, kMeta[Pick(sizeof(kMeta) / sizeof(kMeta[0]))]);
      if (s[s.size() - 2] == ',') s.erase(s.size() - 2, 1);  // the object had no member
    }
    return s;
  }
  // `s` changed in one place: each way the scanner may meet something it
  // must leave to simdjson (white space, control bytes, broken UTF-8,
  // unpaired brackets, bad literals and numbers, escapes, truncation,
  // trailing bytes), valid or not.
  std::string Mutate(std::string s) {
    static const char* const kInserts[] = {" ", "\t", "\n", "\r", "\x01", "\x1f", "\xff", "\xc3", "\xe2\x82",
                                           "\xed\xa0\x80", "é", "\\", "\"", ":", ",", "{", "}", "[", "]", "0",
                                           "-", ".", "e", "t", "x", "\x7f"};
    const size_t at = Pick(s.size() + 1);
    switch (Pick(8)) {
      case 0: case 1:
        s.insert(at, kInserts[Pick(sizeof(kInserts) / sizeof(kInserts[0]))]);
        break;
      case 2:
        if (at < s.size()) s.erase(at, 1);
        break;
      case 3:
        if (at < s.size()) s[at] = "\"\\:,{}[]0-.etx "[Pick(15)];
        break;
      case 4:
        s.resize(at);
        break;
      case 5: {
        static const char* const kTails[] = {"x", "}", "{}", " ", ",", "]", "\"", "{\"a\":1}"};
        s += kTails[Pick(sizeof(kTails) / sizeof(kTails[0]))];
        break;
      }
      case 6: {
        // The other kind of bracket for one of them.
        const size_t b = s.find_first_of("[]{}", at);
        if (b != std::string::npos) s[b] = s[b] == '[' ? '{' : s[b] == ']' ? '}' : s[b] == '{' ? '[' : ']';
        break;
      }
      default: {
        // Literals and numbers cut short or run on.
        static const char* const kBad[] = {"tru", "fals", "nul", "truex", "01", "1.", "-", "1e", "1e+", ".5", "+1", "--1"};
        const size_t c = s.find(':', at);
        if (c != std::string::npos) s.insert(c + 1, kBad[Pick(sizeof(kBad) / sizeof(kBad[0]))]);
        break;
      }
    }
    return s;
  }

 private:
  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool Chance(int percent) { return static_cast<int>(Pick(100)) < percent; }
  void Ws(std::string* s) {
    if (compact_) return;
    static const char* const kWs[] = {"", "", "", "", "", " ", "  ", "\t", "\r", "\n", " \n "};
    *s += kWs[Pick(line_feeds_ ? 11 : 9)];
  }
  void Key(std::string* s, int depth) {
    // Raw JSON text of keys (escaped forms included): plain, dotted, shared
    // first bytes, longer than 8 bytes and differing after the 8th, unicode.
    static const char* const kKeys[] = {
        "a",       "b",       "c",         "a.b",        "b.c",         "a.b.c",          "x",
        "ka",      "k\\u0061", "\\u0061",   "a\\u002eb",  "\\\"q",       "é",              "\\u00e9",
        "",        "aa",      "ab",        "long_key_name_1", "long_key_name_2", "long_key", "long_key_name_1.a",
        // Same length and same first and last 8 bytes: no hash tells them apart.
        "abcdefgh_X_12345678", "abcdefgh_Y_12345678", "abcdefgh_Y_12345678.a",
        "service", "name",    "service.name", "ser\\u0076ice", "n\\\\ame",  "@x",             "a.",
        ".a",      "a..b",    "日本",       "\\ud83d\\ude00",  "😀"};
    const size_t n = sizeof(kKeys) / sizeof(kKeys[0]);
    if (depth == 0 && Chance(10)) {
      static const char* const kAt[] = {"@timestamp", "@metadata", "\\u0040timestamp"};
      *s += '"';
      *s += kAt[Pick(no_escapes_ ? 2 : 3)];
      *s += '"';
      return;
    }
    const char* key = kKeys[Pick(n)];
    while (no_escapes_ && std::strchr(key, '\\')) key = kKeys[Pick(n)];
    *s += '"';
    *s += key;
    *s += '"';
  }
  void String(std::string* s) {
    static const char* const kStrings[] = {"",        "v",          "WARN",   "a\\\"b",        "\\\\",    "\\n",
                                           "é",       "\\u00e9x",   "日本語", "\\ud83d\\ude00", "x y z",  "{not}",
                                           "[1,2]",   "0123456789abcdefghij\\t", "2026-11-21T05:30:59.285Z", "null"};
    const char* str = kStrings[Pick(sizeof(kStrings) / sizeof(kStrings[0]))];
    while (no_escapes_ && std::strchr(str, '\\')) str = kStrings[Pick(sizeof(kStrings) / sizeof(kStrings[0]))];
    *s += '"';
    *s += str;
    *s += '"';
  }
  void Value(std::string* s, int depth) {
    static const char* const kNumbers[] = {"0", "-1", "42", "3.25", "-0.5e3", "1E+2", "18446744073709551615",
                                           "-9223372036854775808", "9007199254740993", "1e-7"};
    switch (Pick(depth > 18 ? 6 : 8)) {
      case 0: case 1: String(s); break;
      case 2: *s += kNumbers[Pick(sizeof(kNumbers) / sizeof(kNumbers[0]))]; break;
      case 3: *s += Chance(50) ? "true" : "false"; break;
      case 4: *s += "null"; break;
      case 5: *s += Chance(50) ? "[]" : "{}"; break;
      case 6: Array(s, depth + 1); break;
      default: Object(s, depth + 1, false); break;
    }
  }
  void Array(std::string* s, int depth) {
    *s += '[';
    const size_t n = Pick(4);
    for (size_t i = 0; i < n; ++i) {
      if (i) *s += ',';
      Ws(s);
      Value(s, depth);
      Ws(s);
    }
    *s += ']';
  }
  void Object(std::string* s, int depth, bool top) {
    *s += '{';
    // Now and then a chain of "a" objects deeper than the parser searches.
    if (!top && depth < 3 && Chance(3)) {
      std::string chain;
      for (int i = 0; i < 19; ++i) chain += "\"a\":{";
      chain += "\"a\":1";
      chain += std::string(19, '}');
      *s += chain + '}';
      return;
    }
    const size_t n = top ? 3 + Pick(8) : Pick(depth > 4 ? 3 : 5);
    for (size_t i = 0; i < n; ++i) {
      if (i) *s += ',';
      Ws(s);
      Key(s, top ? 0 : depth);
      Ws(s);
      *s += ':';
      Ws(s);
      Value(s, depth);
      Ws(s);
    }
    *s += '}';
  }

  std::mt19937 rng_;
  bool line_feeds_ = false;
  bool compact_ = false;
  bool no_escapes_ = false;
};

// Everything parsing decided for one event, spans relative to the event.
std::string Outcome(const Batch& b, size_t i) {
  const Event& e = b.events()[i];
  auto rel = [&](Span s) {
    return s.empty() ? std::string("-") : std::to_string(s.off - e.offset) + "+" + std::to_string(s.len);
  };
  // Not the message: simdjson's reason for one event may depend on the bytes
  // after it (the next event in a batch), before this scanner as now.
  if (e.flags & kEventInvalid) return "invalid";
  std::string out = "valid ts=" + std::to_string(e.timestamp_ms) + " flags=" + std::to_string(e.flags) +
                    " cut=" + std::to_string(e.cut_begin) + "-" + std::to_string(e.cut_end) + " len=" +
                    std::to_string(e.length) + " id=" + rel(e.meta_id) + " pipeline=" + rel(e.meta_pipeline) +
                    " op=" + rel(e.meta_op_type) + " index=" + rel(e.meta_index);
  for (size_t f = 0; f < b.field_count(); ++f) {
    const FieldValue& v = b.field(i, f);
    out += " f" + std::to_string(f) + "=" + std::to_string(static_cast<int>(v.kind)) + (v.escaped ? "e" : "") + ":" +
           (v.kind == FieldKind::kString || v.kind == FieldKind::kNumber ? rel(v.span) : "");
  }
  return out;
}

// `docs` parsed with the scanner come out exactly as without it, in the
// same batches: all in one, in batches of `chunk` events, and each alone.
// (Not across batchings: for some invalid JSON, simdjson's verdict on an
// event depends on the bytes after it, the next event in a batch; that was
// so before the scanner and is not what this compares.) Returns the events
// the scanner decided alone.
uint64_t ExpectScannerAgrees(const std::vector<std::string>& docs, const std::vector<std::string>& fields,
                             size_t chunk) {
  EventParser fast(fields), slow(fields);
  slow.set_scan_events(false);
  auto compare = [&](size_t from, size_t to) {
    Batch a, b;
    a.received_ms = b.received_ms = 777;
    for (size_t i = from; i < to; ++i) {
      a.Append(docs[i]);
      b.Append(docs[i]);
    }
    fast.ParseBatch(&a);
    slow.ParseBatch(&b);
    for (size_t i = from; i < to; ++i) EXPECT_EQ(Outcome(a, i - from), Outcome(b, i - from)) << docs[i];
  };
  compare(0, docs.size());
  for (size_t from = 0; from < docs.size(); from += chunk) compare(from, std::min(docs.size(), from + chunk));
  const uint64_t before = fast.events_scanned();
  for (size_t i = 0; i < docs.size(); ++i) compare(i, i + 1);
  return fast.events_scanned() - before;
}

void CheckFieldSet(const std::vector<std::string>& fields, uint32_t seed, int events) {
  Generator gen(seed);
  std::vector<std::string> docs;
  for (int i = 0; i < events; ++i) docs.push_back(i % 2 ? gen.Event() : gen.CompactEvent());
  simdjson::dom::parser dom;
  EventParser batch_parser(fields), alone_parser(fields);
  Batch all;
  for (const auto& d : docs) all.Append(d);
  batch_parser.ParseBatch(&all);
  for (size_t i = 0; i < docs.size(); ++i) {
    simdjson::dom::element root;
    ASSERT_EQ(dom.parse(docs[i]).get(root), simdjson::SUCCESS) << docs[i];
    Batch one;
    one.Append(docs[i]);
    alone_parser.ParseBatch(&one);
    for (const Batch* b : {&all, &one}) {
      const size_t e = b == &all ? i : 0;
      ASSERT_FALSE(b->events()[e].flags & kEventInvalid) << docs[i] << ": " << b->error(b->events()[e].error);
      ASSERT_EQ(b->field_count(), fields.size());
      for (size_t f = 0; f < fields.size(); ++f) {
        Want want;
        Find(root.get_object().value(), Split(fields[f]), 0, fields, 0, &want);
        const Want got = Got(*b, e, f);
        EXPECT_EQ(static_cast<int>(got.kind), static_cast<int>(want.kind)) << fields[f] << " in " << docs[i];
        EXPECT_EQ(got.text, want.text) << fields[f] << " in " << docs[i];
      }
    }
  }
  // Part of the compact half is read without simdjson (an escaped key
  // where the scanner reads keys sends an event to simdjson).
  const uint64_t scanned = ExpectScannerAgrees(docs, fields, 64);
  EXPECT_GE(scanned, static_cast<uint64_t>(events / 20));
  EXPECT_LT(scanned, static_cast<uint64_t>(events));
  std::vector<std::string> without_backslash;
  for (const auto& d : docs) {
    if (d.find('\\') == std::string::npos) without_backslash.push_back(d);
  }
  EXPECT_GE(ExpectScannerAgrees(without_backslash, fields, 64), static_cast<uint64_t>(events / 20));
  // Each compact event changed in one place: valid or not, scanned or not,
  // the same as simdjson decides.
  std::vector<std::string> mutated;
  for (int i = 0; i < events; ++i) mutated.push_back(gen.Mutate(gen.CompactEvent()));
  const uint64_t mutated_scanned = ExpectScannerAgrees(mutated, fields, 3);
  EXPECT_GT(mutated_scanned, 0u);
  EXPECT_LT(mutated_scanned, static_cast<uint64_t>(events));
}

// Events that share a shape (the same keys in the same order, as Beats
// writes them) with values that change: their length, their escapes, their
// kind now and then; now and then a member dropped, repeated or moved, the
// family changed mid-batch, or the event changed in one place (Mutate).
class ShapeGenerator {
 public:
  explicit ShapeGenerator(uint32_t seed) : rng_(seed) {
    for (int f = 0; f < 4; ++f) families_.push_back(Family(0, true));
  }
  std::string Event() {
    if (Chance(8)) family_ = Pick(families_.size());
    if (Chance(1)) families_[Pick(families_.size())] = Family(0, true);
    std::string s;
    Instance(families_[family_], 0, &s);
    return s;
  }
  bool Chance(int percent) { return static_cast<int>(Pick(100)) < percent; }

 private:
  struct Member {
    std::string key;  // raw JSON text, quotes included
    int kind = 0;     // 0 string, 1 number, 2 true/false/null, 3 array, 4 object
    std::vector<Member> members;
  };
  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  Member Family(int depth, bool top) {
    static const char* const kKeys[] = {
        "a", "b", "c", "a.b", "b.c", "a.b.c", "x", "aa", "long_key_name_1", "long_key_name_2", "long_key",
        "abcdefgh_X_12345678", "abcdefgh_Y_12345678", "service", "name", "service.name", "log", "level",
        "log.level", "offset", "http", "response", "status_code", "", "a.", "k\\u0061", "é"};
    Member m;
    m.kind = 4;
    // Now and then a chain of "a" objects deeper than the parser searches.
    if (!top && depth < 3 && Chance(3)) {
      Member* c = &m;
      for (int i = 0; i < 19; ++i) {
        c->members.push_back(Member{"\"a\"", 4, {}});
        c = &c->members.back();
      }
      c->members.push_back(Member{"\"a\"", 1, {}});
      return m;
    }
    const size_t n = top ? 3 + Pick(9) : Pick(depth > 3 ? 3 : 5);
    if (top && Chance(60)) m.members.push_back(Member{"\"@timestamp\"", 0, {}});
    if (top && Chance(60)) {
      m.members.push_back(Member{"\"@metadata\"", 4, {}});
      for (const char* k : {"beat", "type", "_id", "index"}) {
        if (Chance(50)) m.members.back().members.push_back(Member{std::string("\"") + k + "\"", 0, {}});
      }
      if (Chance(20)) std::swap(m.members[0], m.members.back());
    }
    for (size_t i = 0; i < n; ++i) {
      Member c;
      c.key = std::string("\"") + kKeys[Pick(sizeof(kKeys) / sizeof(kKeys[0]))] + "\"";
      c.kind = depth > 4 ? static_cast<int>(Pick(4)) : static_cast<int>(Pick(6));
      if (c.kind >= 4) c = Member{c.key, 4, Family(depth + 1, false).members};
      m.members.push_back(std::move(c));
    }
    return m;
  }
  void Scalar(int kind, std::string* s) {
    static const char* const kStrings[] = {"",     "v",           "WARN",   "a\\\"b", "\\\\", "\\n",  "é",
                                           "x y z", "{not}",      "[1,2]",  "0123456789abcdefghijklmnopqrstuvwxyz\\t",
                                           "2026-11-21T05:30:59.285Z", "2026-11-21T05:31:00.000Z", "null", "\\u00e9x"};
    static const char* const kNumbers[] = {"0",      "-1",   "42",   "3.25",   "-0.5e3", "1E+2",   "18446744073709551615",
                                           "-9223372036854775808", "9007199254740993", "1e-7", "-0", "7", "123456789012345",
                                           "1234567890123456", "12345678901234567890123", "10", "0.0", "5e3", "-12.5E-2",
                                           "200", "503", "4001"};
    switch (kind) {
      case 0:
        *s += '"';
        *s += kStrings[Pick(sizeof(kStrings) / sizeof(kStrings[0]))];
        *s += '"';
        break;
      case 1: *s += kNumbers[Pick(sizeof(kNumbers) / sizeof(kNumbers[0]))]; break;
      case 2: *s += Chance(33) ? "true" : Chance(50) ? "false" : "null"; break;
      default: *s += Chance(50) ? "[]" : Chance(50) ? "[1,{\"a\":\"]\"},[null]]" : "[\"x\",2]"; break;
    }
  }
  void Instance(const Member& m, int depth, std::string* s) {
    *s += '{';
    bool first = true;
    auto one = [&](const Member& c) {
      if (!first) *s += ',';
      first = false;
      *s += c.key;
      *s += ':';
      if (c.kind == 4 && !Chance(3)) {
        Instance(c, depth + 1, s);
      } else {
        Scalar(Chance(97) ? std::min(c.kind, 3) : static_cast<int>(Pick(4)), s);
      }
    };
    for (size_t i = 0; i < m.members.size(); ++i) {
      if (Chance(1)) continue;  // dropped
      if (Chance(1) && i + 1 < m.members.size()) {  // moved after the next one
        one(m.members[i + 1]);
        one(m.members[i]);
        ++i;
        continue;
      }
      one(m.members[i]);
      if (Chance(1)) one(m.members[i]);  // repeated
    }
    *s += '}';
  }

  std::mt19937 rng_;
  std::vector<Member> families_;
  size_t family_ = 0;
};

// `docs` come out the same read by shapes, by the scanner member by member,
// and by simdjson: in batches of `chunk` and each alone. Returns the events
// read by a shape.
uint64_t ExpectShapesAgree(const std::vector<std::string>& docs, const std::vector<std::string>& fields,
                           size_t chunk) {
  EventParser shapes(fields), members(fields), slow(fields);
  members.set_shapes(false);
  slow.set_scan_events(false);
  auto compare = [&](size_t from, size_t to) {
    Batch a, b, c;
    a.received_ms = b.received_ms = c.received_ms = 777;
    for (size_t i = from; i < to; ++i) {
      a.Append(docs[i]);
      b.Append(docs[i]);
      c.Append(docs[i]);
    }
    shapes.ParseBatch(&a);
    members.ParseBatch(&b);
    slow.ParseBatch(&c);
    for (size_t i = from; i < to; ++i) {
      const std::string want = Outcome(b, i - from);
      EXPECT_EQ(Outcome(a, i - from), want) << docs[i];
      EXPECT_EQ(Outcome(c, i - from), want) << docs[i];
    }
  };
  for (size_t from = 0; from < docs.size(); from += chunk) compare(from, std::min(docs.size(), from + chunk));
  for (size_t i = 0; i < docs.size(); ++i) compare(i, i + 1);
  EXPECT_EQ(members.events_by_shape(), 0u);
  return shapes.events_by_shape();
}

TEST(EventParserDiffTest, EventsReadByTheirShapeMatchTheScanner) {
  const std::vector<std::vector<std::string>> field_sets = {
      {},
      {"a"},
      {"a.b", "b.c", "x"},
      {"a", "a.b", "a.b.c"},
      {"service.name", "log.level", "http.response.status_code", "log.offset", "long_key_name_1", "é"},
      {"abcdefgh_X_12345678", "abcdefgh_Y_12345678", "long_key", "", "a."},
      {"a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a", "a.a"},
  };
  uint32_t seed = 100;
  for (const auto& fields : field_sets) {
    SCOPED_TRACE(testing::PrintToString(fields));
    ShapeGenerator gen(seed++);
    Generator mutator(seed++);
    std::vector<std::string> docs;
    for (int i = 0; i < 3000; ++i) docs.push_back(gen.Chance(4) ? mutator.Mutate(gen.Event()) : gen.Event());
    const uint64_t by_shape = ExpectShapesAgree(docs, fields, 64);
    EXPECT_GT(by_shape, docs.size() / 4);  // of 2 x 3000 parses (escaped keys and Mutate send many to simdjson)
  }
}

// The load generator's Beats events with the 30-rule set's fields: nearly
// all read by their shape, the same as member by member; then with each
// event changed in one place.
TEST(EventParserDiffTest, BeatsEventsReadByTheirShape) {
  const std::vector<std::string> fields = {"service.name", "host.name", "agent.name", "log.file.path", "log.level",
                                           "log.offset", "http.response.status_code", "event.duration_ms",
                                           "input.type", "message"};
  std::vector<std::string> docs;
  for (uint64_t n = 0; n < 4000; ++n) docs.push_back(bench::MakeEvent(n * 7919, 300 + static_cast<int>(n % 400)));
  EXPECT_GT(ExpectShapesAgree(docs, fields, 512), 2u * docs.size() - 16);
  EXPECT_GT(ExpectShapesAgree(docs, {}, 512), 2u * docs.size() - 16);
  Generator mutator(7);
  for (auto& d : docs) d = mutator.Mutate(d);
  EXPECT_GT(ExpectShapesAgree(docs, fields, 16), docs.size() / 8);
}

TEST(EventParserDiffTest, GeneratedEventsMatchTheReference) {
  const std::vector<std::vector<std::string>> field_sets = {
      {"a"},
      {"a.b", "b.c", "x"},
      {"a.b.c", "c"},
      {"a", "a.b", "a.b.c"},  // prefixes that are paths themselves
      {"ka", "aa", "ab", "a..b", ".a", "a."},
      {"long_key_name_1", "long_key_name_2", "long_key", "long_key_name_1.a", "long_key_name_2.b.c"},
      {"service.name", "name", "é", "日本", "😀", "\"q", "n\\ame", "@x", "@timestamp", "b.@metadata"},
      {"", "a.", "x.a"},
      {"abcdefgh_X_12345678", "abcdefgh_Y_12345678.a", "a"},
      {"a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a"},  // reaches the depth limit in the deep chains
  };
  uint32_t seed = 1;
  for (const auto& fields : field_sets) {
    SCOPED_TRACE(testing::PrintToString(fields));
    CheckFieldSet(fields, seed++, 1500);
  }
}

}  // namespace
}  // namespace sluice
