#pragma once
// Reading YAML config and rule files with `file:line: problem` errors.
//
// Every component reads its own options through a ConfigMap: each accessor
// declares one key (so the set of accessor calls is the component's option
// table), and Finish() reports every key that no accessor asked for. Errors are
// collected, not thrown, so one run of `sluice check` reports all of them.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"

namespace sluice {

class ConfigErrors {
 public:
  void Add(std::string_view file, const YAML::Mark& mark, std::string_view message);
  void AddPlain(std::string message) { errors_.push_back(std::move(message)); }
  bool empty() const { return errors_.empty(); }
  const std::vector<std::string>& list() const { return errors_; }
  // All errors, one per line.
  std::string ToString() const;
  absl::Status ToStatus() const;

 private:
  std::vector<std::string> errors_;
};

// Loads a YAML file; on a syntax error records it (with the line) and returns a null node.
YAML::Node LoadYamlFile(const std::string& path, ConfigErrors* errors);
YAML::Node LoadYamlString(const std::string& text, const std::string& name, ConfigErrors* errors);

class ConfigMap {
 public:
  // `node` must be a map (anything else is reported as an error and treated as empty).
  ConfigMap(YAML::Node node, std::string file, ConfigErrors* errors, std::string path = "");

  const std::string& file() const { return file_; }
  ConfigErrors* errors() const { return errors_; }
  const YAML::Node& node() const { return node_; }
  int line() const { return node_.Mark().line + 1; }
  bool Has(std::string_view key) const;

  std::string String(std::string_view key, std::string_view def = "");
  std::string RequiredString(std::string_view key);
  // One of `allowed`.
  std::string Enum(std::string_view key, std::string_view def, const std::vector<std::string>& allowed);
  int64_t Int(std::string_view key, int64_t def, int64_t min, int64_t max);
  double Double(std::string_view key, double def, double min, double max);
  bool Bool(std::string_view key, bool def);
  // A duration ("30s"); bare numbers are milliseconds.
  int64_t DurationMs(std::string_view key, int64_t def, int64_t min_ms = 0);
  // A size ("256MiB").
  uint64_t Bytes(std::string_view key, uint64_t def, uint64_t min = 0);
  // A list of strings; a single string is accepted as a list of one.
  std::vector<std::string> StringList(std::string_view key);
  // A nested map, or nullopt when absent.
  std::optional<ConfigMap> Map(std::string_view key);
  // A list of maps (each reported with its own line).
  std::vector<ConfigMap> MapList(std::string_view key);
  // The raw node (undefined when absent), for components with their own structure; marks the key as known.
  YAML::Node Raw(std::string_view key);

  // Reports an error at this map's line, or at the line of `key` if present.
  void Error(std::string_view key, std::string_view message);
  void ErrorAt(const YAML::Node& node, std::string_view message);

  // Reports keys that no accessor declared. Call once, after reading.
  void Finish();

 private:
  std::optional<YAML::Node> Get(std::string_view key);
  std::string Where(std::string_view key) const;

  YAML::Node node_;
  std::string file_;
  ConfigErrors* errors_;
  std::string path_;
  absl::flat_hash_set<std::string> known_;
};

}  // namespace sluice
