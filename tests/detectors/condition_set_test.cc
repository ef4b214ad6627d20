// ConditionSet (all rules' conditions evaluated together, shared leaves, bit
// masks, numbers parsed once, regexes only where needed) against the
// reference, Condition::Matches walking one rule's tree for one event.

#include "detectors/common/condition.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include <re2/re2.h>

#include "common/strings.h"
#include "pipeline/component.h"
#include "pipeline/event_parser.h"

namespace sluice::detectors {
namespace {

struct RuleSet {
  FieldRegistry fields;
  ConfigErrors errors;
  std::vector<std::unique_ptr<Condition>> conds;
  std::vector<std::string> yaml;
  ConditionSet set;

  void Add(const std::string& y) {
    YAML::Node n = LoadYamlString(y, "r.yml", &errors);
    auto c = Condition::Compile(n, "r.yml", &fields, &errors);
    ASSERT_TRUE(c) << y << "\n" << errors.ToString();
    conds.push_back(std::move(c));
    yaml.push_back(y);
  }
  // {field: {regex: pattern}}, quoted by the YAML emitter.
  void AddRegex(const std::string& field, const std::string& pattern) {
    YAML::Node n(YAML::NodeType::Map);
    n[field]["regex"] = pattern;
    YAML::Emitter out;
    out << n;
    Add(out.c_str());
  }
  void Finish() {
    for (const auto& c : conds) set.Add(*c);
  }
};

// Checks every condition on every event of `events` against Matches, chunk by chunk.
void ExpectSameAnswers(RuleSet& rs, const std::vector<std::string>& events) {
  Batch b;
  for (const std::string& e : events) b.Append(e);
  EventParser p(rs.fields.paths());
  p.ParseBatch(&b);
  ConditionSet::Scratch scratch;
  const uint32_t n = static_cast<uint32_t>(b.size());
  for (uint32_t base = 0; base < n; base += ConditionSet::kChunk) {
    const uint32_t m = std::min(ConditionSet::kChunk, n - base);
    rs.set.Eval(b, base, m, &scratch);
    for (size_t k = 0; k < rs.conds.size(); ++k) {
      const ConditionSet::Mask& got = rs.set.result(scratch, k);
      for (uint32_t j = 0; j < m; ++j) {
        if (b.events()[base + j].flags & kEventInvalid) continue;
        const bool want = rs.conds[k]->Matches(b, base + j);
        const bool bit = (got.w[j / 64] >> (j % 64)) & 1;
        ASSERT_EQ(bit, want) << "condition " << k << ":\n" << rs.yaml[k] << "\nevent: " << events[base + j];
      }
    }
  }
}

// The same with the AVX-512 VBMI needle search where the CPU has it
// (ConditionSet::set_vbmi), with the AVX2 code and with the portable code
// (ConditionSet::set_portable).
void ExpectSameAnswersBothPaths(RuleSet& rs, const std::vector<std::string>& events) {
  rs.set.set_portable(false);
  rs.set.set_vbmi(true);
  ExpectSameAnswers(rs, events);
  if (::testing::Test::HasFatalFailure()) return;
  if (rs.set.vbmi()) {
    rs.set.set_vbmi(false);
    ExpectSameAnswers(rs, events);
    rs.set.set_vbmi(true);
    if (::testing::Test::HasFatalFailure()) return;
  }
  rs.set.set_portable(true);
  ExpectSameAnswers(rs, events);
  rs.set.set_portable(false);
}

TEST(ConditionSetTest, SharedLeavesAreEvaluatedOnce) {
  RuleSet rs;
  rs.Add("log.level: ERROR");
  rs.Add("log.level: ERROR\nservice.name: payments");
  rs.Add("any: [{log.level: ERROR}, {service.name: payments}]");
  rs.Add("s: {gte: 500}");
  rs.Add("s: {gte: 500, lt: 600}");
  rs.Add("s: 500");     // a number: not the same leaf as the string "500"
  rs.Add("s: '500'");
  rs.Finish();
  // log.level=ERROR, service.name=payments, s>=500, s<600, s==500, s=="500"
  EXPECT_EQ(rs.set.leaf_count(), 6u);
  EXPECT_EQ(rs.set.size(), 7u);
  ExpectSameAnswers(rs, {R"({"log":{"level":"ERROR"},"service":{"name":"payments"},"s":500})",
                         R"({"log":{"level":"WARN"},"service":{"name":"payments"},"s":"500"})",
                         R"({"log":{"level":"ERROR"},"s":"599.5"})", R"({"s":600})", R"({})"});
}

TEST(ConditionSetTest, RegexOnlyWhereItDecides) {
  // The regex is needed only for the events of service "a"; elsewhere rule 0
  // fails on its other leaf and rule 1 holds on its other branch.
  RuleSet rs;
  rs.Add("service: a\nmsg: {regex: \"(?i)time(d)? ?out\"}");
  rs.Add("any: [{service: b}, {not: {msg: {regex: \"(?i)time(d)? ?out\"}}}]");
  rs.Finish();
  EXPECT_EQ(rs.set.leaf_count(), 3u);
  std::vector<std::string> events;
  for (int i = 0; i < 700; ++i) {
    events.push_back(StrCat(R"({"service":")", "abc"[i % 3], R"(","msg":")", i % 5 == 0 ? "Timed Out" : "ok",
                            R"("})"));
  }
  ExpectSameAnswers(rs, events);
}

TEST(ConditionSetTest, EmptyConditionMatchesEverything) {
  RuleSet rs;
  rs.Add("{}");
  rs.Add("a: 1");
  rs.Finish();
  ExpectSameAnswers(rs, {R"({"a":1})", R"({"a":2})", R"({})"});
}

// Random condition trees over a few fields, random events with values of
// every kind (numbers, numeric strings, escapes, null, objects, missing).
class RandomRules {
 public:
  explicit RandomRules(uint32_t seed) : rng_(seed) {}

  std::string Condition(int depth) {
    std::string out;
    const int entries = 1 + Pick(3);
    for (int i = 0; i < entries; ++i) {
      const int kind = depth < 2 ? Pick(10) : 0;
      if (kind == 7) {
        out += StrCat("any: [", Inline(depth + 1), ", ", Inline(depth + 1), "]\n");
      } else if (kind == 8) {
        out += StrCat("not: ", Inline(depth + 1), "\n");
      } else if (kind == 9) {
        out += StrCat("all: [", Inline(depth + 1), "]\n");
      } else {
        out += StrCat(kFields[Pick(std::size(kFields))], ": ", kOperands[Pick(std::size(kOperands))], "\n");
      }
    }
    return out;
  }

  std::string Event() {
    std::string e = "{";
    bool first = true;
    for (const char* f : kEventFields) {
      if (Pick(5) == 0) continue;  // missing
      if (!first) e += ",";
      first = false;
      e += StrCat("\"", f, "\":", kValues[Pick(std::size(kValues))]);
    }
    return e + "}";
  }

  int Pick(size_t n) { return static_cast<int>(rng_() % n); }

 private:
  // A condition map in flow style, for any/all/not.
  std::string Inline(int depth) {
    std::string block = Condition(depth);
    std::string out = "{";
    for (const std::string& line : StrSplitLines(block)) {
      if (line.empty()) continue;
      if (out.size() > 1) out += ", ";
      out += line;
    }
    return out + "}";
  }
  static std::vector<std::string> StrSplitLines(const std::string& s) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < s.size()) {
      size_t nl = s.find('\n', pos);
      if (nl == std::string::npos) nl = s.size();
      out.push_back(s.substr(pos, nl - pos));
      pos = nl + 1;
    }
    return out;
  }

  static constexpr const char* kFields[] = {"a", "b.c", "n", "msg"};
  static constexpr const char* kEventFields[] = {"a", "b.c", "n", "msg"};
  static constexpr const char* kOperands[] = {
      "x",          "ERROR",        "500",        "'500'",           "2.5",         "true",
      "null",       "[x, 503, WARN]", "{gte: 500}", "{lt: 0}",        "{gt: 2}",     "{lte: 404}",
      "{gte: 400, lt: 600}", "{eq: WARN}", "{in: [x, y, 404]}", "{exists: true}", "{exists: false}",
      "{regex: \"^x\"}", "{regex: \"(?i)time(d)? ?out\"}", "{regex: \"status=failed|OutOfMemory\"}",
      "{regex: \"a/b\"}", "{regex: \"^5\\\\d\\\\d$\"}", "'say \"hi\"'", "false"};
  static constexpr const char* kValues[] = {
      "\"x\"",  "\"y\"",   "\"ERROR\"", "\"WARN\"",  "500",   "503",   "404",       "\"500\"", "2.5",
      "-1",     "0",       "true",      "false",     "null",  "{\"k\":1}", "[1]",  "\"time out\"",
      "\"Timed Out\"", "\"say \\\"hi\\\"\"", "\"a\\/b\"", "\"status=failed now\"", "\"OutOfMemory\"",
      "\"nan\"", "\"inf\"", "5e2",  "\"5e2\"", "\"\"",  "\"xx\"", "\"x\\u0041\""};

  std::mt19937 rng_;
};

TEST(ConditionSetTest, SameAnswersAsTheTreeWalkOnRandomRulesAndEvents) {
  for (uint32_t seed = 1; seed <= 150; ++seed) {
    RandomRules gen(seed);
    RuleSet rs;
    const int rules = 1 + gen.Pick(16);
    for (int i = 0; i < rules; ++i) {
      rs.Add(gen.Condition(0));
      if (HasFatalFailure()) return;
    }
    rs.Finish();
    std::vector<std::string> events;
    const int n = 1 + gen.Pick(700);  // full and partial chunks
    for (int i = 0; i < n; ++i) events.push_back(gen.Event());
    SCOPED_TRACE(StrCat("seed ", seed));
    ExpectSameAnswersBothPaths(rs, events);
    if (HasFatalFailure()) return;
  }
}

// Regex leaves take shortcuts (literal alternatives, "^literal" prefixes, and
// RE2's prefilter atoms searched without case before RE2 runs, required ones
// first): on both
// evaluation paths, every answer must be RE2::PartialMatch's on the unescaped text.
TEST(ConditionSetTest, RegexShortcutsAnswerAsRe2) {
  const std::vector<std::string> patterns = {
      "(?i)time(d)? ?out", "^/var/log/", "Exception|Traceback", "(?i)kelvin", "a.*b",   "x{2,}y",
      "(?i)ab|cd",         "^abc",       "status=failed",       "(?i)[a-z]+error", "^$", "(?i)ünï",
      "(?i)error.*(timeout|refused)", "(?i)(foo|bar)baz",  // atoms: one required and two either-or; either-or only
      "^12", "^a.*b", "^/var/log/|^/srv/"};
  const std::vector<std::string> texts = {  // JSON string content, as written in the events
      "", "timeout", "Timed Out", "TIMEDOUT", "time  out", "/var/log/x", "x/var/log/", "a Traceback", "exception",
      "\u212Aelvin", "KELVIN", "kelvin", "aXb", "xxy", "xy", "AB", "zcD", "abc", "ab", "status=failed!",
      "Status=Failed", "SomeError", "ÜNÏ", "ünï", "t\u0130me out", "time\\tout",  // JSON-escaped
      "ERROR: connection refused", "error then Timeout", "refused error", "timeout", "FooBaz", "barbaz!", "baz",
      "/var/log", "/var/lo", "/var/log/shop/api.log", "/var/Log/", "12", "1234"};
  RuleSet rs;
  for (const std::string& p : patterns) {
    rs.AddRegex("msg", p);
    if (HasFatalFailure()) return;
  }
  rs.Finish();
  std::vector<std::string> events;
  for (const std::string& t : texts) {
    events.push_back(StrCat(R"({"msg":")", t, R"("})"));
    events.push_back(StrCat(R"({"msg":")", t, R"(\u00e9"})"));  // escaped, not ASCII once unescaped
  }
  for (const char* number : {"1", "12", "123", "21", "1.5", "-12"}) events.push_back(StrCat(R"({"msg":)", number, "}"));
  Batch b;
  for (const std::string& e : events) b.Append(e);
  EventParser parser(rs.fields.paths());
  parser.ParseBatch(&b);
  ConditionSet::Scratch scratch;
  rs.set.Eval(b, 0, static_cast<uint32_t>(b.size()), &scratch);
  for (size_t k = 0; k < patterns.size(); ++k) {
    RE2 re(patterns[k]);
    for (uint32_t i = 0; i < b.size(); ++i) {
      ASSERT_FALSE(b.events()[i].flags & kEventInvalid) << events[i];
      const std::string text = FieldText(b, b.field(i, 0));
      const bool want = RE2::PartialMatch(text, re);
      EXPECT_EQ(rs.conds[k]->Matches(b, i), want) << patterns[k] << " on " << events[i];
      EXPECT_EQ(((rs.set.result(scratch, k).w[i / 64] >> (i % 64)) & 1) != 0, want) << patterns[k] << " on " << events[i];
    }
  }
}

// Several substring regexes on one field (literal alternatives, prefilter
// atoms with and without case) are searched in one pass over the text
// (ConditionSet's needle groups): random sets of them on random texts made of
// their needles, near misses (case flipped, cut short, one byte changed) and
// other bytes, at every length around the 32-byte steps, must answer as one
// search per regex (Condition::Matches); some regexes are needed only for
// some events (another field decides the rest), whose texts are then
// searched for the needed regexes' needles only. With the AVX-512 VBMI pass
// (64 positions at a time, where the CPU has it), the AVX2 pass (32) and the
// portable one.
TEST(ConditionSetTest, OnePassNeedleSearchAnswersAsOneSearchPerRegex) {
  const std::vector<std::string> pool = {
      "status=failed", "OutOfMemory|OOMKilled", "Exception", "Traceback", "declined|insufficient funds",
      "method=POST", "(?i)time(d)? ?out", "(?i)conn(ection)? refused", "(?i)ab|cd", "ab", "ba|aab", "xyz",
      "(?i)kelvin", "a=b", "(?i)error.*(timeout|refused)", "`@", "é!", "12|34"};
  const std::vector<std::string> words = {
      "status=failed", "status=created", "OutOfMemory", "OOMKilled", "Exception", "Traceback", "declined",
      "insufficient funds", "method=POST", "method=post", "timed out", "TIMEOUT", "time out", "connection refused",
      "Conn Refused", "ab", "AB", "cd", "ba", "aab", "xyz", "XYZ", "kelvin", "KELVIN", "a=b", "error", "ERROR",
      "@`", "`@", "12", "34", "\\u00e9!", "\\n", "é!"};
  for (uint32_t seed = 1; seed <= 120; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
    RuleSet rs;
    const size_t rules = 2 + pick(10);
    for (size_t i = 0; i < rules; ++i) {
      // Alone, or needed only for some events (only where svc is a, or where it is not).
      const std::string& pattern = pool[pick(pool.size())];
      YAML::Node n(YAML::NodeType::Map);
      switch (pick(4)) {
        case 0:
          n["svc"] = "a";
          n["msg"]["regex"] = pattern;
          break;
        case 1: {
          YAML::Node other(YAML::NodeType::Map), re(YAML::NodeType::Map);
          other["svc"] = "a";
          re["msg"]["regex"] = pattern;
          n["any"].push_back(other);
          n["any"].push_back(re);
          break;
        }
        default:
          n["msg"]["regex"] = pattern;
      }
      YAML::Emitter out;
      out << n;
      rs.Add(out.c_str());
      if (HasFatalFailure()) return;
    }
    rs.Finish();
    std::vector<std::string> events;
    for (int e = 0; e < 300; ++e) {
      if (pick(20) == 0) {
        events.push_back(StrCat(R"({"msg":)", pick(100000), "}"));  // a number's text
        continue;
      }
      std::string text;
      const size_t target = pick(12) == 0 ? 2000 + pick(200) : pick(140);  // around a stretch of 64 blocks too
      while (text.size() < target) {
        std::string w = words[pick(words.size())];
        switch (pick(6)) {
          case 0:  // case flipped
            for (char& c : w) {
              if (std::isalpha(static_cast<unsigned char>(c)) && pick(2)) c = static_cast<char>(c ^ 0x20);
            }
            break;
          case 1:  // cut short
            w.resize(pick(w.size() + 1));
            if (!w.empty() && w.back() == '\\') w.pop_back();
            break;
          case 2:  // one byte changed
            if (!w.empty() && w[0] != '\\') w[pick(w.size())] = "xq=A "[pick(5)];
            break;
          case 3:
            w = std::string(1 + pick(3), "ab =@`Z"[pick(7)]);
            break;
          default:
            break;
        }
        text += w;
      }
      events.push_back(StrCat(R"({"svc":")", "ab"[pick(2)], R"(","msg":")", text, R"("})"));
    }
    SCOPED_TRACE(StrCat("seed ", seed));
    ExpectSameAnswersBothPaths(rs, events);
    if (HasFatalFailure()) return;
  }
}

// The equality leaves of a field are answered by one table look-up of the
// field's string per event (ConditionSet's equality indexes): random sets of
// them (one value, lists, eq/in, numbers, quoted numbers, null, true, empty
// and long strings that share their first and last bytes) on random values
// of every kind (those strings, near misses, escaped forms, numbers, objects,
// missing) must answer as Condition::Matches.
TEST(ConditionSetTest, EqualityIndexAnswersAsEachLeaf) {
  size_t indexed = 0;
  const std::vector<std::string> words = {
      "shop-db", "rabbitmq", "mes-db", "mes-core", "order-created", "published", "delivered", "acked",
      "calculation-stage", "calculation-completed", "calculation-requested", "calculation-failed",
      "dead-lettered", "a", "ab", "abc", "abcd", "abcdefgh", "abcdefghi", "abcdefgh-abcdefgh", "abcdefgh+abcdefgh",
      "WARN", "FATAL", "1", "2", "3", "500", "2.5", "true", "null", ""};
  // As YAML scalars: plain, quoted (a string even if numeric), or YAML's own.
  auto yaml = [](const std::string& w, bool quote) { return quote || w.empty() ? StrCat("'", w, "'") : w; };
  for (uint32_t seed = 1; seed <= 150; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
    RuleSet rs;
    auto leaf = [&](const std::string& f) {
      std::string operand;
      if (pick(3)) {
        operand = yaml(words[pick(words.size())], pick(3) == 0);
        if (pick(4) == 0 && operand != "null") operand = StrCat("{eq: ", operand, "}");  // eq takes no null
      } else {
        const size_t values = 2 + pick(4);
        for (size_t v = 0; v < values; ++v) operand += StrCat(v ? ", " : "[", yaml(words[pick(words.size())], pick(3) == 0));
        operand += "]";
        if (pick(4) == 0) operand = StrCat("{in: ", operand, "}");
      }
      return StrCat(f, ": ", operand);
    };
    const size_t rules = 1 + pick(24);
    for (size_t i = 0; i < rules; ++i) {
      std::string cond;
      if (pick(4)) cond += leaf("s") + "\n";
      if (pick(3) == 0) cond += leaf("t.u") + "\n";
      if (pick(4) == 0) cond += StrCat("not: {", leaf(pick(2) ? "s" : "t.u"), "}\n");
      if (pick(4) == 0) cond += StrCat("any: [{", leaf("s"), "}, {", leaf("t.u"), "}]\n");
      if (cond.empty()) cond = leaf("t.u");
      rs.Add(cond);
      if (HasFatalFailure()) return;
    }
    rs.Finish();
    indexed += rs.set.indexed_leaf_count();
    std::vector<std::string> events;
    auto value = [&]() -> std::string {
      switch (pick(10)) {
        case 0:
          return std::vector<std::string>{"1", "2.0", "3", "500", "5e2", "2.5", "-0", "true", "false", "null",
                                          "{\"k\":1}", "[1]"}[pick(12)];
        case 1: {  // escaped: the same string with one byte as \u00XX, or \/
          std::string w = words[pick(words.size())];
          if (w.empty()) return R"("\/")";
          const size_t at = pick(w.size());
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned char>(w[at]));
          return StrCat("\"", w.substr(0, at), esc, w.substr(at + 1), "\"");
        }
        case 2: {  // a near miss: one byte changed, cut short, or longer
          std::string w = words[pick(words.size())];
          if (!w.empty() && pick(2)) {
            w[pick(w.size())] = "xA-1 "[pick(5)];
          } else if (!w.empty() && pick(2)) {
            w.resize(pick(w.size()));
          } else {
            w += "xA-1 "[pick(5)];
          }
          return StrCat("\"", w, "\"");
        }
        default:
          return StrCat("\"", words[pick(words.size())], "\"");
      }
    };
    const size_t n = 1 + pick(700);
    for (size_t i = 0; i < n; ++i) {
      std::string e = "{";
      if (pick(6)) e += StrCat("\"s\":", value());
      if (pick(6)) e += StrCat(e.size() > 1 ? "," : "", "\"t\":{\"u\":", value(), "}");
      events.push_back(e + "}");
    }
    SCOPED_TRACE(StrCat("seed ", seed));
    ExpectSameAnswers(rs, events);
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(indexed, 1000u);  // the tables were there to answer
}

// An equality index whose every leaf holds only numbers (status codes:
// ConditionSet answers its number values from the numeric column, 4 at a
// time for each distinct number, and the other values one by one): random
// sets of such leaves (one number, lists, with null) on values that equal
// them as numbers (503, 503.0, 5.03e2), as strings ("503": equal, "503.0":
// not), near misses, and values of every other kind, over several 64-event
// words, must answer as Condition::Matches, with the AVX2 code and the
// portable code.
TEST(ConditionSetTest, NumbersOnlyIndexAnswersAsEachLeaf) {
  const std::vector<std::string> numbers = {"200", "404", "500", "502", "503", "504", "0", "-1", "2.5", "1e3"};
  size_t indexed = 0;
  for (uint32_t seed = 1; seed <= 60; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
    RuleSet rs;
    const size_t rules = 3 + pick(6);
    for (size_t i = 0; i < rules; ++i) {
      std::string operand;
      if (pick(2)) {
        operand = numbers[pick(numbers.size())];
      } else {
        const size_t values = 2 + pick(4);
        for (size_t v = 0; v < values; ++v) operand += StrCat(v ? ", " : "[", pick(8) ? numbers[pick(numbers.size())] : "null");
        operand += "]";
      }
      rs.Add(StrCat(pick(4) ? "" : "svc: a\n", "code: ", operand));
      if (HasFatalFailure()) return;
    }
    rs.Finish();
    indexed += rs.set.indexed_leaf_count();
    auto value = [&]() -> std::string {
      const std::string& x = numbers[pick(numbers.size())];
      switch (pick(8)) {
        case 0:
          return StrCat("\"", x, "\"");  // the string: equal to the literal's text only
        case 1:
          return std::vector<std::string>{"503.0", "5.03e2", R"("503.0")", R"("\u0035\u00303")", "-0", "404.5",
                                          "null", "true", "false", R"({"k":503})", "[503]", R"("x")"}[pick(12)];
        default:
          return x;
      }
    };
    std::vector<std::string> events;
    const size_t n = 1 + pick(600);
    for (size_t i = 0; i < n; ++i) {
      std::string e = StrCat("{\"svc\":\"", "ab"[pick(2)], "\"");
      if (pick(10)) e += StrCat(",\"code\":", value());
      events.push_back(e + "}");
    }
    SCOPED_TRACE(StrCat("seed ", seed));
    ExpectSameAnswersBothPaths(rs, events);
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(indexed, 200u);  // the index was there to answer
}

// EvalPred's fast paths: `exists` read from the kinds a row apart,
// comparisons 4 numbers at a time (AVX2), "^literal" prefixes and one-string
// equalities compared without a call (the random rule sets above go through
// them too). On literals of 1 to 20 bytes (around SameShortBytes' 4-, 8- and
// 16-byte loads, and the 16 bytes a Pred holds itself: longer literals take
// the general path) against values equal to them, longer, shorter, one byte off,
// escaped, of other kinds or missing, with the AVX2 code and the portable
// code, every answer must be Condition::Matches'.
TEST(ConditionSetTest, FastPathsAnswerAsTheTreeWalkWithAndWithoutSimd) {
  for (uint32_t seed = 1; seed <= 120; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
    std::string w;
    const size_t len = 1 + pick(20);
    while (w.size() < len) w += "ab/1-"[pick(5)];
    RuleSet rs;
    rs.Add(StrCat("f: {regex: \"^", w, "\"}"));
    rs.Add(StrCat("f: '", w, "'"));
    rs.Add(StrCat("not: {g: '", w, "'}"));
    rs.Add(StrCat("any: [{f: {exists: true}}, {g: {exists: false}}]"));
    rs.Add(StrCat("g: {exists: true}\nn: {gte: ", pick(5), "}"));
    rs.Add(StrCat("n: {gt: ", pick(5), ", lte: 3}"));
    rs.Add(StrCat("not: {n: {lt: 2}}"));
    if (HasFatalFailure()) return;
    rs.Finish();
    auto value = [&]() -> std::string {
      std::string v = w;
      switch (pick(12)) {
        case 0:
          return std::vector<std::string>{"1", "2.5", "3", "-0", "true", "false", "null", "{\"k\":1}", "[1]",
                                          "\"\""}[pick(10)];
        case 1:
          v += "ab/1-"[pick(5)];
          break;
        case 2:
          v.resize(pick(v.size()));
          break;
        case 3:
          v[pick(v.size())] = "ab/1-x"[pick(6)];
          break;
        case 4:
          v += w;
          break;
        case 5: {
          const size_t at = pick(v.size());
          v = StrCat(v.substr(0, at), "\\u00", v[at] == '/' ? "2f" : v[at] == '-' ? "2d" : "61", v.substr(at + 1));
          break;
        }
        default:
          break;
      }
      return StrCat("\"", v, "\"");
    };
    std::vector<std::string> events;
    const size_t n = 1 + pick(600);
    for (size_t i = 0; i < n; ++i) {
      std::string e = "{\"pad\":\"" + std::string(pick(9), 'p') + "\"";
      if (pick(8)) e += StrCat(",\"f\":", value());
      if (pick(8)) e += StrCat(",\"g\":", value());
      if (pick(8)) e += StrCat(",\"n\":", std::vector<std::string>{"0", "1", "2", "3", "4", "2.5", "\"3\"", "\"x\"", "null", "-1"}[pick(10)]);
      events.push_back(e + "}");
    }
    SCOPED_TRACE(StrCat("literal seed ", seed, ": ", w));
    ExpectSameAnswersBothPaths(rs, events);
    if (HasFatalFailure()) return;
  }
}

// An equality index's numbers path reuses the leaves of the last number for
// an equal one (status codes: runs of 200), and exists leaves read 8 rows'
// kinds at a time: streams of runs of equal numbers, in different spellings
// (500, 5e2, 500.0; 0 and -0), interrupted by strings, other kinds and
// missing values, and rows of many fields (wide strides), against the tree walk.
// Seeds above 60: every equality leaf on s holds only numbers, and EvalIndex
// answers a number from the numbers alone, in its first loop.
TEST(ConditionSetTest, NumberRunsAndExistsAnswerAsTheTreeWalk) {
  for (uint32_t seed = 1; seed <= 120; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
    RuleSet rs;
    rs.Add("s: 503");
    rs.Add("s: 404");
    rs.Add("s: {in: [500, 502, 503, 504]}");
    if (seed <= 60) rs.Add("s: [0, 2.5, 'x']");  // not only numbers: each leaf as before
    rs.Add("s: {in: [200, 0]}");
    const size_t wide = 1 + pick(12);  // fields f0.. in every event: the rows' stride
    for (size_t k = 0; k < wide; ++k) rs.Add(StrCat("f", k, ": {exists: ", pick(2) ? "true" : "false", "}"));
    rs.Add("any: [{s: {exists: true}}, {f0: 503}]");
    rs.Finish();
    ASSERT_GT(rs.set.indexed_leaf_count(), 0u);
    const std::vector<std::string> numbers = {"200", "200.0", "2e2", "503", "5.03e2", "404", "500", "5e2", "0",
                                              "-0", "0.0", "2.5", "1e400", "502", "504"};
    const std::vector<std::string> others = {"\"200\"", "\"x\"", "null", "true", "false", "{\"a\":1}", "[1]"};
    std::vector<std::string> events;
    const size_t n = 1 + pick(900);
    std::string run = numbers[0];
    for (size_t i = 0; i < n; ++i) {
      if (pick(6) == 0) run = numbers[pick(numbers.size())];  // runs of one number
      std::string e = "{";
      const size_t r = pick(10);
      if (r < 7) {
        e += StrCat("\"s\":", run);
      } else if (r < 9) {
        e += StrCat("\"s\":", others[pick(others.size())]);
      } else {
        e += "\"t\":1";  // no s
      }
      for (size_t k = 0; k < wide; ++k) {
        if (pick(3)) e += StrCat(",\"f", k, "\":", pick(4) ? numbers[pick(numbers.size())] : others[pick(others.size())]);
      }
      events.push_back(e + "}");
    }
    SCOPED_TRACE(StrCat("seed ", seed));
    ExpectSameAnswersBothPaths(rs, events);
    if (HasFatalFailure()) return;
  }
}

// An equality index answers values of up to 16 bytes from a table with one
// slot per string (ConditionSet::EqualityIndex::short_slots): its key words
// hold every byte (the first and last 8 or 4 bytes, overlapping, and the
// size). Strings of 0 to 20 bytes that differ from each other in one byte at
// every position (the middle bytes of 9 to 16, the bytes the two words
// share), many leaves with long lists (tables of up to 1024 slots), against
// the tree walk; longer values go to the probing table as before.
TEST(ConditionSetTest, ShortStringSlotsAnswerAsTheTreeWalk) {
  size_t tables = 0;
  for (uint32_t seed = 1; seed <= 80; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
    // Words sharing most bytes: a stem and one-byte variants of it.
    std::vector<std::string> words;
    const size_t stems = 1 + pick(4);
    for (size_t k = 0; k < stems; ++k) {
      std::string stem;
      const size_t len = pick(21);
      while (stem.size() < len) stem += "aA-b1"[pick(5)];
      words.push_back(stem);
      for (size_t v = 0; v < 6 && !stem.empty(); ++v) {
        std::string w = stem;
        w[pick(w.size())] = "aA-b1xz"[pick(7)];
        words.push_back(w);
      }
      words.push_back(stem + "a");
      if (!stem.empty()) words.push_back(stem.substr(0, stem.size() - 1));
    }
    RuleSet rs;
    const size_t leaves = 3 + pick(40);
    for (size_t i = 0; i < leaves; ++i) {
      std::string operand;
      const size_t values = 1 + (pick(3) == 0 ? pick(30) : pick(3));
      for (size_t v = 0; v < values; ++v) operand += StrCat(v ? ", " : "[", "'", words[pick(words.size())], "'");
      operand += "]";
      rs.Add(pick(4) ? StrCat("s: ", operand) : StrCat("not: {s: ", operand, "}"));
      if (HasFatalFailure()) return;
    }
    rs.Finish();
    tables += rs.set.short_table_count();
    std::vector<std::string> events;
    const size_t n = 1 + pick(800);
    for (size_t i = 0; i < n; ++i) {
      std::string w = words[pick(words.size())];
      switch (pick(8)) {
        case 0:
          if (!w.empty()) w[pick(w.size())] = "aA-b1xz"[pick(7)];
          break;
        case 1:
          w += "aA-b1xz"[pick(7)];
          break;
        case 2:
          events.push_back(StrCat("{\"s\":", std::vector<std::string>{"1", "null", "true", "{\"k\":1}", "\"\\u0061\""}[pick(5)], "}"));
          continue;
        case 3:
          events.push_back("{\"t\":1}");
          continue;
        default:
          break;
      }
      events.push_back(StrCat("{\"p\":\"", std::string(pick(9), 'p'), "\",\"s\":\"", w, "\"}"));
    }
    SCOPED_TRACE(StrCat("seed ", seed));
    ExpectSameAnswersBothPaths(rs, events);
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(tables, 40u);  // the short tables were there to answer
}

// The numeric columns (ConditionSet::numbers): numbers of 1 to 15 digits are
// read 4 at a time (AVX2; past 8, as two words), everything else as
// FieldNumber. Numbers of 0 to 16 digits, with signs, fractions, exponents,
// leading zeros, numeric strings, other kinds, missing values, values at the very start of the batch's bytes
// (fewer than 8 bytes before their end), in rows of several fields: every
// value must be FieldNumber's (the same double, or NaN where it finds none),
// with the AVX2 code and the portable code, and the comparisons as the tree walk.
TEST(ConditionSetTest, NumberColumnsAreFieldNumbers) {
  for (uint32_t seed = 1; seed <= 60; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
    RuleSet rs;
    rs.Add("n: {gt: 240}");
    rs.Add("m: {lte: 99999999}");
    rs.Add("n: [200, 503, '404']");
    if (HasFatalFailure()) return;
    rs.Finish();
    auto number = [&]() -> std::string {
      std::string v;
      const size_t digits = pick(17);
      for (size_t i = 0; i < digits; ++i) v += static_cast<char>('0' + pick(10));
      switch (pick(10)) {
        case 0:
          return "-" + v;
        case 1:
          return v + ".5";
        case 2:
          return v + "e2";
        case 3:
          return StrCat("\"", v, "\"");
        case 4:
          return std::vector<std::string>{"null", "true", "\"x\"", "{\"a\":1}", "[1]", "\"\"", "\"1\\u0030\""}[pick(7)];
        default:
          return v.empty() ? "0" : v;
      }
    };
    std::vector<std::string> events;
    const size_t n = 1 + pick(700);
    for (size_t i = 0; i < n; ++i) {
      std::string e = "{";
      if (pick(8)) e += StrCat("\"n\":", number());
      if (pick(3)) e += StrCat(e.size() > 1 ? "," : "", "\"m\":", number());
      events.push_back(e + "}");
    }
    SCOPED_TRACE(StrCat("seed ", seed));
    ExpectSameAnswersBothPaths(rs, events);
    if (HasFatalFailure()) return;
    Batch b;
    for (const std::string& e : events) b.Append(e);
    EventParser parser(rs.fields.paths());
    parser.ParseBatch(&b);
    for (bool portable : {false, true}) {
      rs.set.set_portable(portable);
      ConditionSet::Scratch scratch;
      const uint32_t total = static_cast<uint32_t>(b.size());
      for (uint32_t base = 0; base < total; base += ConditionSet::kChunk) {
        const uint32_t m = std::min(ConditionSet::kChunk, total - base);
        rs.set.Eval(b, base, m, &scratch);
        for (const char* path : {"n", "m"}) {
          const int field = rs.fields.Register(path);
          const double* col = rs.set.numbers(scratch, field);
          ASSERT_NE(col, nullptr);
          for (uint32_t j = 0; j < m; ++j) {
            double want;
            if (!FieldNumber(b, b.field(base + j, static_cast<size_t>(field)), &want)) {
              EXPECT_TRUE(std::isnan(col[j])) << path << " in " << events[base + j];
            } else {
              EXPECT_EQ(std::memcmp(&col[j], &want, sizeof want), 0)
                  << path << " in " << events[base + j] << ": " << col[j] << " vs " << want;
            }
          }
        }
      }
    }
    rs.set.set_portable(false);
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace sluice::detectors
