// Module: a named tree of parameters, like torch.nn.Module. Parameter names are
// the dotted paths (blocks.3.attn.q.weight) used by checkpoints.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/autograd.h"
#include "engine/rng.h"

namespace mapet::nn {

struct NamedParam {
  std::string name;
  Var var;
};

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  std::vector<NamedParam> named_parameters() const;
  Var parameter(const std::string& name) const;  // throws, naming it, if absent
  int64_t num_parameters() const;
  void train(bool on = true);
  bool training() const { return training_; }
  void zero_grad();
  // Moves every parameter to dev in place (like torch's module.to(device)):
  // the Vars stay the same objects, so an optimizer built before still holds
  // them; their gradients are dropped. device() is the device of the first
  // parameter (the CPU for a module without any).
  void to(Device dev);
  Device device() const;

 protected:
  Var& register_parameter(const std::string& name, Tensor init);
  template <class M>
  M& register_module(const std::string& name, std::unique_ptr<M> m) {
    M& ref = *m;
    children_.emplace_back(name, std::move(m));
    return ref;
  }

 private:
  void collect(const std::string& prefix, std::vector<NamedParam>& out) const;
  std::vector<std::pair<std::string, Var>> params_;
  std::vector<std::pair<std::string, std::unique_ptr<Module>>> children_;
  bool training_ = true;
};

// Submodules held by index (blocks.0, blocks.1, ...).
class ModuleList : public Module {
 public:
  template <class M>
  M& push_back(std::unique_ptr<M> m) {
    M& ref = register_module(std::to_string(items_.size()), std::move(m));
    items_.push_back(&ref);
    return ref;
  }
  size_t size() const { return items_.size(); }
  Module& operator[](size_t i) const { return *items_[i]; }

 private:
  std::vector<Module*> items_;
};

// Everything a forward pass may need besides its input.
struct Context {
  Generator* rng = nullptr;  // dropout / drop-path draws; required when training with p > 0
};

}  // namespace mapet::nn
