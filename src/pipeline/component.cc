#include "pipeline/component.h"

namespace sluice {

int FieldRegistry::Register(std::string_view path) {
  int i = Find(path);
  if (i >= 0) return i;
  paths_.emplace_back(path);
  return static_cast<int>(paths_.size() - 1);
}

int FieldRegistry::Find(std::string_view path) const {
  for (size_t i = 0; i < paths_.size(); ++i) {
    if (paths_[i] == path) return static_cast<int>(i);
  }
  return -1;
}

ComponentRegistry& ComponentRegistry::Get() {
  static ComponentRegistry* r = new ComponentRegistry();
  return *r;
}

bool ComponentRegistry::RegisterInput(std::string name, InputFactory f) {
  if (inputs_.count(name)) {
    duplicates_.push_back(name);
    return false;
  }
  inputs_.emplace(std::move(name), std::move(f));
  return true;
}

bool ComponentRegistry::RegisterSink(std::string name, SinkFactory f) {
  if (sinks_.count(name)) {
    duplicates_.push_back(name);
    return false;
  }
  sinks_.emplace(std::move(name), std::move(f));
  return true;
}

const InputFactory* ComponentRegistry::FindInput(std::string_view name) const {
  auto it = inputs_.find(name);
  return it == inputs_.end() ? nullptr : &it->second;
}

const SinkFactory* ComponentRegistry::FindSink(std::string_view name) const {
  auto it = sinks_.find(name);
  return it == sinks_.end() ? nullptr : &it->second;
}

std::vector<std::string> ComponentRegistry::InputNames() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : inputs_) out.push_back(k);
  return out;
}

std::vector<std::string> ComponentRegistry::SinkNames() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : sinks_) out.push_back(k);
  return out;
}

}  // namespace sluice
