#include "common/config_reader.h"

#include <fstream>
#include <sstream>

#include "common/strings.h"

#include "common/units.h"

namespace sluice {

void ConfigErrors::Add(std::string_view file, const YAML::Mark& mark, std::string_view message) {
  int line = mark.line >= 0 ? mark.line + 1 : 1;
  errors_.push_back(StrCat(file, ":", line, ": ", message));
}

std::string ConfigErrors::ToString() const { return StrJoin(errors_, "\n"); }

absl::Status ConfigErrors::ToStatus() const {
  if (errors_.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(ToString());
}

YAML::Node LoadYamlString(const std::string& text, const std::string& name, ConfigErrors* errors) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    errors->Add(name, e.mark, e.msg);
    return YAML::Node();
  }
}

YAML::Node LoadYamlFile(const std::string& path, ConfigErrors* errors) {
  std::ifstream in(path);
  if (!in) {
    errors->AddPlain(StrCat(path, ":1: cannot open file"));
    return YAML::Node();
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return LoadYamlString(ss.str(), path, errors);
}

ConfigMap::ConfigMap(YAML::Node node, std::string file, ConfigErrors* errors, std::string path)
    : node_(std::move(node)), file_(std::move(file)), errors_(errors), path_(std::move(path)) {
  if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap()) {
    errors_->Add(file_, node_.Mark(), StrCat(path_.empty() ? "document" : path_, ": expected a map of keys"));
    node_ = YAML::Node(YAML::NodeType::Map);
  }
}

std::string ConfigMap::Where(std::string_view key) const {
  return path_.empty() ? std::string(key) : StrCat(path_, ".", key);
}

bool ConfigMap::Has(std::string_view key) const {
  if (!node_.IsMap()) return false;
  for (const auto& kv : node_) {
    if (kv.first.Scalar() == key) return true;
  }
  return false;
}

std::optional<YAML::Node> ConfigMap::Get(std::string_view key) {
  known_.insert(std::string(key));
  if (!node_.IsMap()) return std::nullopt;
  for (const auto& kv : node_) {
    if (kv.first.Scalar() == key) {
      if (kv.second.IsNull()) return std::nullopt;
      return kv.second;
    }
  }
  return std::nullopt;
}

void ConfigMap::Error(std::string_view key, std::string_view message) {
  YAML::Mark mark = node_.Mark();
  if (node_.IsMap()) {
    for (const auto& kv : node_) {
      if (kv.first.Scalar() == key) {
        mark = kv.first.Mark();
        break;
      }
    }
  }
  errors_->Add(file_, mark, StrCat(Where(key), ": ", message));
}

void ConfigMap::ErrorAt(const YAML::Node& node, std::string_view message) {
  errors_->Add(file_, node.Mark(), message);
}

std::string ConfigMap::String(std::string_view key, std::string_view def) {
  std::optional<YAML::Node> on = Get(key);
  if (!on) return std::string(def);
  const YAML::Node& n = *on;
  if (!n.IsScalar()) {
    Error(key, "expected a string");
    return std::string(def);
  }
  return n.Scalar();
}

std::string ConfigMap::RequiredString(std::string_view key) {
  std::optional<YAML::Node> on = Get(key);
  if (!on || (on->IsScalar() && on->Scalar().empty())) {
    errors_->Add(file_, node_.Mark(), StrCat(Where(key), ": required key is missing"));
    return "";
  }
  return String(key);
}

std::string ConfigMap::Enum(std::string_view key, std::string_view def, const std::vector<std::string>& allowed) {
  std::string v = String(key, def);
  for (const auto& a : allowed) {
    if (a == v) return v;
  }
  Error(key, StrCat("\"", v, "\" is not one of: ", StrJoin(allowed, ", ")));
  return std::string(def);
}

int64_t ConfigMap::Int(std::string_view key, int64_t def, int64_t min, int64_t max) {
  std::optional<YAML::Node> on = Get(key);
  if (!on) return def;
  const YAML::Node& n = *on;
  int64_t v;
  if (!n.IsScalar() || !YAML::convert<int64_t>::decode(n, v)) {
    Error(key, "expected an integer");
    return def;
  }
  if (v < min || v > max) {
    Error(key, StrCat(v, " is out of range [", min, ", ", max, "]"));
    return def;
  }
  return v;
}

double ConfigMap::Double(std::string_view key, double def, double min, double max) {
  std::optional<YAML::Node> on = Get(key);
  if (!on) return def;
  const YAML::Node& n = *on;
  double v;
  if (!n.IsScalar() || !YAML::convert<double>::decode(n, v)) {
    Error(key, "expected a number");
    return def;
  }
  if (v < min || v > max) {
    Error(key, StrCat(v, " is out of range [", min, ", ", max, "]"));
    return def;
  }
  return v;
}

bool ConfigMap::Bool(std::string_view key, bool def) {
  std::optional<YAML::Node> on = Get(key);
  if (!on) return def;
  const YAML::Node& n = *on;
  bool v;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) {
    Error(key, "expected true or false");
    return def;
  }
  return v;
}

int64_t ConfigMap::DurationMs(std::string_view key, int64_t def, int64_t min_ms) {
  std::optional<YAML::Node> on = Get(key);
  if (!on) return def;
  const YAML::Node& n = *on;
  if (!n.IsScalar()) {
    Error(key, "expected a duration such as 30s");
    return def;
  }
  auto v = ParseDurationMs(n.Scalar());
  if (!v.ok()) {
    Error(key, MessageOf(v.status().message()));
    return def;
  }
  if (*v < min_ms) {
    Error(key, StrCat("must be at least ", min_ms, "ms"));
    return def;
  }
  return *v;
}

uint64_t ConfigMap::Bytes(std::string_view key, uint64_t def, uint64_t min) {
  std::optional<YAML::Node> on = Get(key);
  if (!on) return def;
  const YAML::Node& n = *on;
  if (!n.IsScalar()) {
    Error(key, "expected a size such as 64MiB");
    return def;
  }
  auto v = ParseBytes(n.Scalar());
  if (!v.ok()) {
    Error(key, MessageOf(v.status().message()));
    return def;
  }
  if (*v < min) {
    Error(key, StrCat("must be at least ", min, " bytes"));
    return def;
  }
  return *v;
}

std::vector<std::string> ConfigMap::StringList(std::string_view key) {
  std::optional<YAML::Node> on = Get(key);
  if (!on) return {};
  const YAML::Node& n = *on;
  std::vector<std::string> out;
  if (!n) return out;
  if (n.IsScalar()) {
    out.push_back(n.Scalar());
    return out;
  }
  if (!n.IsSequence()) {
    Error(key, "expected a list of strings");
    return out;
  }
  for (const auto& item : n) {
    if (!item.IsScalar()) {
      ErrorAt(item, StrCat(Where(key), ": expected a string"));
      continue;
    }
    out.push_back(item.Scalar());
  }
  return out;
}

std::optional<ConfigMap> ConfigMap::Map(std::string_view key) {
  std::optional<YAML::Node> on = Get(key);
  if (!on) return std::nullopt;
  const YAML::Node& n = *on;
  return ConfigMap(n, file_, errors_, Where(key));
}

std::vector<ConfigMap> ConfigMap::MapList(std::string_view key) {
  std::optional<YAML::Node> on = Get(key);
  if (!on) return {};
  const YAML::Node& n = *on;
  std::vector<ConfigMap> out;
  if (!n) return out;
  if (!n.IsSequence()) {
    Error(key, "expected a list");
    return out;
  }
  for (size_t i = 0; i < n.size(); ++i) {
    out.emplace_back(n[i], file_, errors_, StrCat(Where(key), "[", i, "]"));
  }
  return out;
}

YAML::Node ConfigMap::Raw(std::string_view key) {
  auto n = Get(key);
  return n ? *n : YAML::Node(YAML::NodeType::Undefined);
}

void ConfigMap::Finish() {
  if (!node_.IsMap()) return;
  for (const auto& kv : node_) {
    const std::string& k = kv.first.Scalar();
    if (!known_.contains(k)) {
      std::vector<std::string> known(known_.begin(), known_.end());
      std::sort(known.begin(), known.end());
      errors_->Add(file_, kv.first.Mark(),
                   StrCat("unknown key \"", Where(k), "\" (expected one of: ", StrJoin(known, ", "), ")"));
    }
  }
}

}  // namespace sluice
