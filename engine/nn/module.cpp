#include "engine/nn/module.h"

namespace mapet::nn {

Var& Module::register_parameter(const std::string& name, Tensor init) {
  params_.emplace_back(name, Var(std::move(init), true));
  return params_.back().second;
}

void Module::collect(const std::string& prefix, std::vector<NamedParam>& out) const {
  for (const auto& [name, v] : params_) out.push_back({prefix + name, v});
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

std::vector<NamedParam> Module::named_parameters() const {
  std::vector<NamedParam> out;
  collect("", out);
  return out;
}

Var Module::parameter(const std::string& name) const {
  for (const NamedParam& p : named_parameters())
    if (p.name == name) return p.var;
  throw Error("model has no parameter named '" + name + "'");
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const NamedParam& p : named_parameters()) n += p.var.value().numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (const NamedParam& p : named_parameters()) p.var.zero_grad();
}

void Module::to(Device dev) {
  for (const NamedParam& p : named_parameters()) {
    if (p.var.value().device() == dev) continue;
    p.var.mutable_value() = p.var.value().to(dev);
    p.var.zero_grad();
  }
}

Device Module::device() const {
  const std::vector<NamedParam> ps = named_parameters();
  return ps.empty() ? Device::cpu : ps.front().var.value().device();
}

}  // namespace mapet::nn
