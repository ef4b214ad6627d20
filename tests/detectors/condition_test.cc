#include "detectors/common/condition.h"

#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <random>

#include "pipeline/component.h"
#include "pipeline/event_parser.h"

namespace sluice::detectors {
namespace {

struct Compiled {
  FieldRegistry fields;
  ConfigErrors errors;
  std::unique_ptr<Condition> cond;
  explicit Compiled(const std::string& yaml) {
    YAML::Node n = LoadYamlString(yaml, "r.yml", &errors);
    cond = Condition::Compile(n, "r.yml", &fields, &errors);
  }
  // Does the condition match this one event?
  bool Match(const std::string& json) {
    Batch b;
    b.Append(json);
    EventParser p(fields.paths());
    p.ParseBatch(&b);
    return cond->Matches(b, 0);
  }
  std::string Errors() const { return errors.ToString(); }
};

TEST(ConditionTest, EqualsStringsNumbersBooleansNull) {
  Compiled c("log.level: FATAL");
  ASSERT_TRUE(c.cond) << c.Errors();
  EXPECT_TRUE(c.Match(R"({"log":{"level":"FATAL"}})"));
  EXPECT_TRUE(c.Match(R"({"log.level":"FATAL"})"));
  EXPECT_FALSE(c.Match(R"({"log":{"level":"WARN"}})"));
  EXPECT_FALSE(c.Match(R"({"other":1})"));
  EXPECT_FALSE(c.Match(R"({"log":{"level":["FATAL"]}})"));  // an array is not a string

  Compiled n("status: 500");
  EXPECT_TRUE(n.Match(R"({"status":500})"));
  EXPECT_TRUE(n.Match(R"({"status":500.0})"));   // numbers compare as numbers
  EXPECT_TRUE(n.Match(R"({"status":"500"})"));   // a string with the same text
  EXPECT_FALSE(n.Match(R"({"status":501})"));

  Compiled b("ok: true");
  EXPECT_TRUE(b.Match(R"({"ok":true})"));
  EXPECT_FALSE(b.Match(R"({"ok":false})"));

  Compiled z("x: null");
  EXPECT_TRUE(z.Match(R"({"x":null})"));
  EXPECT_FALSE(z.Match(R"({"x":"null"})"));

  Compiled esc("msg: 'say \"hi\"'");
  EXPECT_TRUE(esc.Match(R"({"msg":"say \"hi\""})"));  // escaped JSON content is unescaped to compare
}

TEST(ConditionTest, OneOf) {
  Compiled c("service.name: [mes-api, mes-core]");
  EXPECT_TRUE(c.Match(R"({"service":{"name":"mes-core"}})"));
  EXPECT_FALSE(c.Match(R"({"service":{"name":"crm"}})"));
  Compiled in("code: {in: [1, 2]}");
  EXPECT_TRUE(in.Match(R"({"code":2})"));
  EXPECT_FALSE(in.Match(R"({"code":3})"));
}

TEST(ConditionTest, Comparisons) {
  Compiled gte("s: {gte: 500}");
  EXPECT_TRUE(gte.Match(R"({"s":500})"));
  EXPECT_TRUE(gte.Match(R"({"s":"503"})"));  // numeric strings compare as numbers
  EXPECT_FALSE(gte.Match(R"({"s":499})"));
  EXPECT_FALSE(gte.Match(R"({"s":"abc"})"));  // type mismatch: no match, no error
  EXPECT_FALSE(gte.Match(R"({"s":true})"));
  EXPECT_FALSE(gte.Match(R"({"s":{"a":1}})"));
  EXPECT_FALSE(gte.Match(R"({})"));
  EXPECT_TRUE(Compiled("s: {gt: 1.5}").Match(R"({"s":1.6})"));
  EXPECT_FALSE(Compiled("s: {gt: 1.5}").Match(R"({"s":1.5})"));
  EXPECT_TRUE(Compiled("s: {lt: -1}").Match(R"({"s":-2e3})"));
  EXPECT_TRUE(Compiled("s: {lte: 3}").Match(R"({"s":3})"));
  Compiled range("s: {gte: 500, lt: 600}");
  EXPECT_TRUE(range.Match(R"({"s":599})"));
  EXPECT_FALSE(range.Match(R"({"s":600})"));
}

TEST(ConditionTest, RegexAndExists) {
  Compiled re(R"(url.path: {regex: "^/api/orders"})");
  ASSERT_TRUE(re.cond) << re.Errors();
  EXPECT_TRUE(re.Match(R"({"url":{"path":"/api/orders/17"}})"));
  EXPECT_FALSE(re.Match(R"({"url":{"path":"/v2/api/orders"}})"));
  EXPECT_FALSE(re.Match(R"({"url":{"path":7}})"));
  EXPECT_TRUE(Compiled(R"(n: {regex: "^4\\d\\d$"})").Match(R"({"n":404})"));  // number text
  EXPECT_TRUE(Compiled(R"(p: {regex: "a/b"})").Match(R"({"p":"a\/b"})"));    // unescaped first

  Compiled ex("order.id: {exists: true}");
  EXPECT_TRUE(ex.Match(R"({"order":{"id":"o-1"}})"));
  EXPECT_TRUE(ex.Match(R"({"order":{"id":0}})"));
  EXPECT_FALSE(ex.Match(R"({"order":{"id":null}})"));
  EXPECT_FALSE(ex.Match(R"({"order":{}})"));
  Compiled nex("order.id: {exists: false}");
  EXPECT_TRUE(nex.Match(R"({"order":{}})"));
  EXPECT_FALSE(nex.Match(R"({"order":{"id":"o-1"}})"));
}

TEST(ConditionTest, AnyAllNot) {
  Compiled any("any: [{log.level: WARN}, {log.level: ERROR}]\nservice.name: api");
  EXPECT_TRUE(any.Match(R"({"log":{"level":"ERROR"},"service":{"name":"api"}})"));
  EXPECT_FALSE(any.Match(R"({"log":{"level":"INFO"},"service":{"name":"api"}})"));
  EXPECT_FALSE(any.Match(R"({"log":{"level":"WARN"},"service":{"name":"crm"}})"));

  Compiled all("all: [{a: 1}, {b: {gt: 2}}]");
  EXPECT_TRUE(all.Match(R"({"a":1,"b":3})"));
  EXPECT_FALSE(all.Match(R"({"a":1,"b":2})"));

  Compiled nt("not: {log.level: [TRACE, INFO]}");
  EXPECT_TRUE(nt.Match(R"({"log":{"level":"FATAL"}})"));
  EXPECT_FALSE(nt.Match(R"({"log":{"level":"INFO"}})"));
  EXPECT_TRUE(nt.Match(R"({})"));

  Compiled nested("any: [{not: {a: 1}}, {all: [{a: 1}, {b: 1}]}]");
  EXPECT_TRUE(nested.Match(R"({"a":2})"));
  EXPECT_TRUE(nested.Match(R"({"a":1,"b":1})"));
  EXPECT_FALSE(nested.Match(R"({"a":1,"b":2})"));
}

TEST(ConditionTest, RegistersOnlyTheFieldsItReads) {
  Compiled c("any: [{log.level: WARN}, {http.status: {gte: 500}}]\nlog.level: [WARN, ERROR]");
  EXPECT_EQ(c.fields.paths(), (std::vector<std::string>{"log.level", "http.status"}));
}

TEST(ConditionTest, ErrorsNameTheLine) {
  auto err = [](const std::string& yaml) { return Compiled(yaml).Errors(); };
  EXPECT_EQ(err("a: 1\nb: {regex: \"(\"}\n"),
            "r.yml:2: match: b: bad regex \"(\": missing ): (");
  EXPECT_EQ(err("a: {gte: lots}\n"), "r.yml:1: match: a: gte: expected a number");
  EXPECT_EQ(err("a: 1\nb: {near: 3}\n"),
            "r.yml:2: match: b: unknown operator \"near\" (expected one of: eq, in, gt, gte, lt, lte, regex, exists)");
  EXPECT_EQ(err("a: {exists: maybe}\n"), "r.yml:1: match: a: exists: expected true or false");
  EXPECT_EQ(err("any: {a: 1}\n"), "r.yml:1: match: any: expected a non-empty list of conditions");
  EXPECT_EQ(err("a: []\n"), "r.yml:1: match: a: the list of values is empty");
  EXPECT_EQ(err("a: [{b: 1}]\n"), "r.yml:1: match: a: expected a value, a list of values or {operator: value}");
  EXPECT_EQ(err("- a\n"), "r.yml:1: match: expected a map of field: condition");
  EXPECT_FALSE(Compiled("a: {gte: 1}\n").cond == nullptr);
  EXPECT_TRUE(Compiled("a: {gte: x}\n").cond == nullptr);
}

}  // namespace
}  // namespace sluice::detectors

namespace sluice::detectors {
namespace {

// Regexes that are only literal alternatives take a substring search instead
// of RE2: same answers, including escaped content, needles at both ends and
// across the 16-byte blocks of the search.
TEST(ConditionTest, LiteralRegexFastPathMatchesLikeRe2) {
  Compiled lit(R"y(message: {regex: "status=failed|OOMKilled"})y");
  Compiled re(R"y(message: {regex: "(status=failed|OOMKilled)"})y");  // a group: RE2
  ASSERT_TRUE(lit.cond && re.cond) << lit.Errors() << re.Errors();
  const std::string pad(40, 'x');
  for (const std::string& msg : std::vector<std::string>
       {std::string("status=failed"), "OOMKilled", "x status=failed", pad + "status=failed", pad + "OOMKilled" + pad,
        "status=faile", "tatus=failed", "status=created " + pad, "OOM Killed", std::string(""), "s",
        "pod was \\\"OOMKilled\\\"", "status\\u003dfailed", pad + "status=faileD"}) {
    const std::string ev = "{\"message\":\"" + msg + "\"}";
    EXPECT_EQ(lit.Match(ev), re.Match(ev)) << msg;
  }
  EXPECT_TRUE(lit.Match(R"({"message":"status\u003dfailed"})"));  // unescaped before searching
  EXPECT_FALSE(lit.Match(R"({"message":"all good"})"));
}

// FieldNumber reads values of 1 to 16 digits 8 bytes at a time (the bytes
// before the value in the arena cleared): random numbers and numeric strings
// of every length up to 19, digits mixed with the bytes just outside '0'-'9' and with
// signs, points, exponents and leading zeros, at every offset from the arena's
// start, must give what a plain parse gives ('+' skipped, then the whole text
// through std::from_chars).
TEST(FieldNumberTest, SameAsAPlainParse) {
  FieldRegistry fields;
  const int f = fields.Register("n");
  std::mt19937 rng(11);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  size_t fast = 0, fast_long = 0;
  for (int round = 0; round < 300; ++round) {
    Batch b;
    std::vector<std::string> texts;
    for (int e = 0; e < 40; ++e) {
      std::string t;
      const size_t len = pick(20);
      for (size_t k = 0; k < len; ++k) t.push_back(static_cast<char>('0' + pick(10)));
      switch (pick(8)) {
        case 0:
          if (!t.empty()) t[pick(t.size())] = "/:;?@ .e"[pick(8)];  // a byte that is not a digit
          break;
        case 1:
          t = (pick(2) ? "-" : "+") + t;
          break;
        case 2:
          t = std::string(1 + pick(3), '0') + t;
          break;
        default:
          break;
      }
      // As a string or, when it is a JSON number, also as a number; the
      // first event with little before it (its value starts under 8 bytes in).
      const bool json_number = !t.empty() && t[0] != '+' && t[0] != '0' && t != "-" && t.rfind("-0", 0) != 0 &&
                               t.find_first_not_of("-0123456789") == std::string::npos;
      const std::string value = json_number && pick(2) ? t : "\"" + t + "\"";
      const std::string pad = e == 0 ? "" : std::string(pick(9), 'p');
      b.Append(e == 0 ? R"({"n":)" + value + "}" : R"({"p":")" + pad + R"(","n":)" + value + "}");
      texts.push_back(t);
    }
    EventParser parser(fields.paths());
    parser.ParseBatch(&b);
    for (size_t e = 0; e < texts.size(); ++e) {
      const FieldValue& v = b.field(e, static_cast<size_t>(f));
      ASSERT_TRUE(v.kind == FieldKind::kNumber || v.kind == FieldKind::kString) << texts[e];
      const std::string_view s = b.View(v.span);
      ASSERT_EQ(s, texts[e]);
      const char* p = s.data();
      if (p != s.data() + s.size() && *p == '+') ++p;
      double want = 0;
      const auto r = std::from_chars(p, s.data() + s.size(), want);
      const bool ok = r.ec == std::errc() && r.ptr == s.data() + s.size() && p != s.data() + s.size();
      double got = -1;
      EXPECT_EQ(FieldNumber(b, v, &got), ok) << "'" << texts[e] << "'";
      if (ok) {
        EXPECT_EQ(got, want) << "'" << texts[e] << "'";
        EXPECT_EQ(std::signbit(got), std::signbit(want)) << "'" << texts[e] << "'";
      }
      const bool digits = ok && s.find_first_not_of("0123456789") == std::string::npos;
      fast += digits && s.size() <= 8;
      fast_long += digits && s.size() > 8 && s.size() <= 16;
    }
  }
  EXPECT_GT(fast, 1500u);  // values of up to 8 digits: one word
  EXPECT_GT(fast_long, 1500u);  // 9 to 16 digits: two
}

}  // namespace
}  // namespace sluice::detectors
