#include "pipeline/component.h"

namespace sluice {

FieldRegistry::FieldRegistry() : paths_(std::make_shared<const Paths>()) {}

FieldRegistry::FieldRegistry(const FieldRegistry& other) : paths_(other.Snapshot()) {
  size_.store(paths_->size());
}

int FieldRegistry::Register(std::string_view path) {
  std::lock_guard<std::mutex> l(mu_);
  for (size_t i = 0; i < paths_->size(); ++i) {
    if ((*paths_)[i] == path) return static_cast<int>(i);
  }
  auto next = std::make_shared<Paths>(*paths_);
  next->emplace_back(path);
  paths_ = std::move(next);
  size_.store(paths_->size(), std::memory_order_release);
  // Published after the list: a reader that sees the new generation gets the new list.
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return static_cast<int>(paths_->size() - 1);
}

int FieldRegistry::Find(std::string_view path) const {
  auto snap = Snapshot();
  for (size_t i = 0; i < snap->size(); ++i) {
    if ((*snap)[i] == path) return static_cast<int>(i);
  }
  return -1;
}

std::shared_ptr<const FieldRegistry::Paths> FieldRegistry::Snapshot(uint64_t* generation) const {
  std::lock_guard<std::mutex> l(mu_);
  if (generation) *generation = generation_.load(std::memory_order_relaxed);
  return paths_;
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
