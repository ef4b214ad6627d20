#pragma once
// The `match:` condition of a rule, compiled once per rule set into a flat
// tree over extracted field indexes. Matching reads only Batch::field() values;
// it never touches the JSON.
//
//   log.level: FATAL                      equals (strings, numbers, true/false, null)
//   service.name: [mes-api, mes-core]     one of
//   http.response.status_code: {gte: 500} gt, gte, lt, lte (numbers and numeric strings)
//   url.path: {regex: "^/api/orders"}     RE2, unanchored (strings and number text)
//   order.id: {exists: true}              present and not null
//   any: [...] / all: [...] / not: {...}  combine condition maps
//
// A field of the wrong type never matches (a comparison on a non-numeric
// string, a regex on an object), it is not an error.

#include <memory>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/config_reader.h"
#include "pipeline/batch.h"

namespace re2 {
class RE2;
}

namespace sluice {
class FieldRegistry;
}

namespace sluice::detectors {

class Condition {
 public:
  // Compiles `node` (a map of field → condition); registers every field path
  // it reads with `fields`. Errors go to `errors` with the node's line.
  // Returns nullptr on errors. A null/absent node matches every event.
  static std::unique_ptr<Condition> Compile(const YAML::Node& node, const std::string& file, FieldRegistry* fields,
                                            ConfigErrors* errors);
  ~Condition();

  bool Matches(const Batch& batch, size_t event) const { return nodes_.empty() || Eval(0, batch, event); }
  // Number of compiled nodes (for tests).
  size_t size() const { return nodes_.size(); }

 private:
  enum class Op : uint8_t { kAll, kAny, kNot, kEquals, kOneOf, kGt, kGte, kLt, kLte, kRegex, kExists, kNotExists };
  struct Literal {
    FieldKind kind;       // kString, kNumber, kTrue, kFalse, kNull
    std::string text;     // string content (unescaped) or number text
    double number = 0;    // when the text is numeric
    bool numeric = false;
  };
  struct Node {
    Op op;
    int field = -1;                    // leaf: field index
    std::vector<uint32_t> children;    // kAll / kAny / kNot
    std::vector<Literal> literals;     // kEquals (one) / kOneOf; kRegex: its literal alternatives, if it is only that
    double number = 0;                 // comparisons
    std::unique_ptr<re2::RE2> re;      // kRegex
  };

  Condition() = default;
  int CompileMap(const YAML::Node& node, const std::string& file, FieldRegistry* fields, ConfigErrors* errors);
  int CompileField(const std::string& path, const YAML::Node& value, const std::string& file, FieldRegistry* fields,
                   ConfigErrors* errors);
  int CompileList(Op op, const YAML::Node& value, const std::string& file, FieldRegistry* fields,
                  ConfigErrors* errors);
  bool Eval(uint32_t i, const Batch& batch, size_t event) const;
  static void LiteralAlternatives(const std::string& pattern, std::vector<Literal>* out);
  static bool LiteralEquals(const Literal& lit, const FieldValue& v, std::string_view text);

  std::vector<Node> nodes_;
};

// The numeric value of a field (numbers, and strings holding a number). False if none.
bool FieldNumber(const Batch& batch, const FieldValue& v, double* out);
// The unescaped string form of a field value ("" when missing): strings
// unescaped, numbers as text, true/false/null as words.
std::string FieldText(const Batch& batch, const FieldValue& v);

}  // namespace sluice::detectors
