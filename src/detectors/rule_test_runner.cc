#include "detectors/rule_test_runner.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "common/config_reader.h"
#include "common/json_util.h"
#include "common/strings.h"
#include "common/timeutil.h"
#include "detectors/rule_engine.h"
#include "pipeline/event_parser.h"

namespace sluice::detectors {
namespace {

struct InputEvent {
  int64_t ts;
  std::string json;
};

struct ExpectedAlert {
  std::map<std::string, std::string> labels, annotations;
  int line = 0;
};

struct Expectation {
  int64_t at;
  std::vector<ExpectedAlert> firing;
  int line = 0;
};

struct TestCase {
  std::string name;
  int64_t start = 0;
  std::vector<InputEvent> inputs;
  std::vector<Expectation> expects;
};

class Recorder : public AlertSink {
 public:
  void Emit(const Alert&) override {}
};

// A YAML scalar as a JSON value: plain scalars that read as numbers, booleans
// or null keep their type; everything else (and every quoted scalar) is a string.
void AppendScalar(const YAML::Node& n, std::string* out) {
  const std::string& s = n.Scalar();
  if (n.Tag() != "!") {
    double d;
    if (s == "true" || s == "false" || s == "null") {
      *out += s;
      return;
    }
    if (!s.empty() && YAML::convert<double>::decode(n, d) && s.find_first_not_of("0123456789.-+eE") == std::string::npos) {
      *out += s;
      return;
    }
  }
  AppendJsonString(s, out);
}

void AppendNode(const YAML::Node& n, std::string* out) {
  if (n.IsMap()) {
    *out += '{';
    bool first = true;
    for (const auto& kv : n) {
      if (!first) *out += ',';
      first = false;
      AppendJsonString(kv.first.Scalar(), out);
      *out += ':';
      AppendNode(kv.second, out);
    }
    *out += '}';
  } else if (n.IsSequence()) {
    *out += '[';
    for (size_t i = 0; i < n.size(); ++i) {
      if (i) *out += ',';
      AppendNode(n[i], out);
    }
    *out += ']';
  } else if (n.IsNull()) {
    *out += "null";
  } else {
    AppendScalar(n, out);
  }
}

std::map<std::string, std::string> StringMap(ConfigMap& m, std::string_view key) {
  std::map<std::string, std::string> out;
  YAML::Node n = m.Raw(key);
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsMap()) {
    m.Error(key, "expected a map of names to values");
    return out;
  }
  for (const auto& kv : n) out[kv.first.Scalar()] = kv.second.Scalar();
  return out;
}

std::string Describe(const std::map<std::string, std::string>& m) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : m) parts.push_back(StrCat(k, "=\"", v, "\""));
  return StrCat("{", StrJoin(parts, ", "), "}");
}

std::string Describe(const Labels& l) {
  std::map<std::string, std::string> m(l.begin(), l.end());
  return Describe(m);
}

bool Matches(const ExpectedAlert& e, const Alert& a) {
  auto has = [](const Labels& l, const std::string& k, const std::string& v) {
    for (const auto& [n, val] : l) {
      if (n == k) return val == v;
    }
    return false;
  };
  for (const auto& [k, v] : e.labels) {
    if (!has(a.labels, k, v)) return false;
  }
  for (const auto& [k, v] : e.annotations) {
    if (!has(a.annotations, k, v)) return false;
  }
  return true;
}

class TestFile {
 public:
  TestFile(std::string path, std::ostream& out) : path_(std::move(path)), out_(out) {}

  // Returns {passed, failed}; file-level errors count as one failure.
  std::pair<int, int> Run() {
    YAML::Node root = LoadYamlFile(path_, &errors_);
    if (!errors_.empty()) return FileError();
    ConfigMap top(root, path_, &errors_);
    std::string base = std::filesystem::path(path_).parent_path().string();
    if (base.empty()) base = ".";
    rule_files_ = top.StringList("rule_files");
    if (rule_files_.empty()) top.Error("rule_files", "at least one rule file is required");
    opts_.base_dir = base;
    opts_.evaluation_interval_ms = top.DurationMs("evaluation_interval", 1000, 1);
    opts_.allowed_lateness_ms = top.DurationMs("allowed_lateness", 0);
    std::vector<TestCase> cases;
    for (ConfigMap& t : top.MapList("tests")) cases.push_back(ReadCase(t));
    top.Finish();
    if (!errors_.empty()) return FileError();
    int passed = 0, failed = 0;
    for (const TestCase& c : cases) {
      if (RunCase(c)) {
        ++passed;
        out_ << "PASS " << path_ << ": " << c.name << "\n";
      } else {
        ++failed;
      }
      if (!errors_.empty()) return {passed, failed + FileError().second};
    }
    return {passed, failed};
  }

 private:
  std::pair<int, int> FileError() {
    out_ << "FAIL " << path_ << ":\n" << errors_.ToString() << "\n";
    return {0, 1};
  }

  TestCase ReadCase(ConfigMap& t) {
    TestCase c;
    c.name = t.RequiredString("name");
    std::string start = t.String("start", "2026-01-01T00:00:00Z");
    if (!ParseRfc3339Ms(start, &c.start)) t.Error("start", "expected an RFC 3339 time such as 2026-11-21T10:00:00Z");
    for (ConfigMap& in : t.MapList("input")) {
      int64_t at = in.DurationMs("at", 0);
      int64_t count = in.Int("count", 1, 1, 10'000'000);
      int64_t every = in.DurationMs("every", 0);
      YAML::Node ev = in.Raw("event");
      if (!ev.IsDefined() || !ev.IsMap()) {
        in.Error("event", "required: a map of event fields (dotted names allowed)");
        in.Finish();
        continue;
      }
      in.Finish();
      for (int64_t i = 0; i < count; ++i) {
        int64_t ts = c.start + at + i * every;
        std::string json = "{\"@timestamp\":\"";
        AppendRfc3339Ms(ts, &json);
        json += "\"";
        std::string body;
        AppendNode(ev, &body);
        if (body.size() > 2) json += "," + body.substr(1, body.size() - 2);
        json += "}";
        c.inputs.push_back({ts, std::move(json)});
      }
    }
    std::stable_sort(c.inputs.begin(), c.inputs.end(), [](const auto& a, const auto& b) { return a.ts < b.ts; });
    for (ConfigMap& ex : t.MapList("expect")) {
      Expectation e;
      e.line = ex.line();
      e.at = c.start + ex.DurationMs("at", 0);
      YAML::Node firing = ex.Raw("firing");
      if (firing.IsDefined() && !firing.IsNull() && !firing.IsSequence()) ex.Error("firing", "expected a list of alerts");
      for (ConfigMap& a : ex.MapList("firing")) {
        ExpectedAlert ea;
        ea.line = a.line();
        if (a.Has("labels") || a.Has("annotations")) {
          ea.labels = StringMap(a, "labels");
          ea.annotations = StringMap(a, "annotations");
          a.Finish();
        } else {
          for (const auto& kv : a.node()) ea.labels[kv.first.Scalar()] = kv.second.Scalar();
        }
        e.firing.push_back(std::move(ea));
      }
      ex.Finish();
      c.expects.push_back(std::move(e));
    }
    std::stable_sort(c.expects.begin(), c.expects.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
    t.Finish();
    return c;
  }

  bool RunCase(const TestCase& c) {
    MetricsRegistry metrics;
    FieldRegistry fields;
    ComponentContext ctx;
    ctx.metrics = &metrics;
    ctx.fields = &fields;
    ctx.check_only = true;
    RuleEngine engine(opts_);
    Recorder rec;
    engine.AddSink(&rec);
    if (!engine.Load(rule_files_, ctx, &errors_).ok()) return false;
    EventParser parser(fields.paths());
    size_t next = 0;
    int64_t now = c.start;
    bool ok = true;
    auto feed_until = [&](int64_t t) {
      Batch b;
      b.received_ms = t;
      while (next < c.inputs.size() && c.inputs[next].ts <= t) b.Append(c.inputs[next++].json);
      if (b.size() == 0) return;
      parser.ParseBatch(&b);
      engine.Observe(b);
    };
    for (const Expectation& e : c.expects) {
      while (now < e.at) {
        now = std::min(now + opts_.evaluation_interval_ms, e.at);
        feed_until(now);
        engine.Tick(now);
      }
      feed_until(now);
      engine.Tick(now);
      std::vector<Alert> firing;
      for (Alert& a : engine.ActiveAlerts()) {
        if (a.state == AlertState::kFiring) firing.push_back(std::move(a));
      }
      std::vector<bool> used(firing.size(), false);
      std::vector<std::string> problems;
      for (const ExpectedAlert& ex : e.firing) {
        bool found = false;
        for (size_t i = 0; i < firing.size(); ++i) {
          if (!used[i] && Matches(ex, firing[i])) {
            used[i] = found = true;
            break;
          }
        }
        if (!found) {
          problems.push_back(StrCat("    missing: ", Describe(ex.labels),
                                    ex.annotations.empty() ? "" : StrCat(" annotations ", Describe(ex.annotations)),
                                    "  (", path_, ":", ex.line, ")"));
        }
      }
      for (size_t i = 0; i < firing.size(); ++i) {
        if (!used[i]) {
          problems.push_back(StrCat("    unexpected: ", Describe(firing[i].labels), " value=", firing[i].value,
                                    " annotations ", Describe(firing[i].annotations)));
        }
      }
      if (!problems.empty()) {
        if (ok) out_ << "FAIL " << path_ << ": " << c.name << "\n";
        ok = false;
        out_ << "  at +" << (e.at - c.start) / 1000.0 << "s (" << path_ << ":" << e.line << "):\n";
        for (const auto& p : problems) out_ << p << "\n";
        if (!firing.empty()) {
          out_ << "    firing then:\n";
          for (const Alert& a : firing) out_ << "      " << Describe(a.labels) << " value=" << a.value << "\n";
        }
      }
    }
    return ok;
  }

  std::string path_;
  std::ostream& out_;
  ConfigErrors errors_;
  std::vector<std::string> rule_files_;
  RuleEngineOptions opts_;
};

}  // namespace

int RunRuleTestFiles(const std::vector<std::string>& files, std::ostream& out) {
  int passed = 0, failed = 0;
  for (const auto& f : files) {
    auto [p, fl] = TestFile(f, out).Run();
    passed += p;
    failed += fl;
  }
  out << passed << " passed, " << failed << " failed\n";
  return failed == 0 && passed > 0 ? 0 : 1;
}

}  // namespace sluice::detectors
