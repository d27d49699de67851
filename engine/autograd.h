// Reverse-mode autograd on a tape.
//
// A Var is a shared handle to a value and (once backward has run) its gradient.
// Ops on Vars compute their output eagerly and, when any input needs a gradient,
// push one closure on the tape that turns the output's gradient into gradients
// for the inputs. backward() walks the tape from the end and then clears it.
// Gradients accumulate (+=) until zero_grad, which is what micro-batch gradient
// accumulation needs.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace mapet {

struct VarImpl {
  Tensor value;
  Tensor grad;  // undefined until a gradient arrives
  bool requires_grad = false;
};

class Var {
 public:
  Var() = default;
  explicit Var(Tensor value, bool requires_grad = false)
      : p_(std::make_shared<VarImpl>(VarImpl{std::move(value), Tensor(), requires_grad})) {}

  bool defined() const { return p_ != nullptr; }
  const Tensor& value() const { return p_->value; }
  Tensor& mutable_value() const { return p_->value; }
  const Tensor& grad() const { return p_->grad; }
  void zero_grad() const { p_->grad = Tensor(); }
  void set_grad(Tensor g) const { p_->grad = std::move(g); }
  bool requires_grad() const { return p_ && p_->requires_grad; }
  // Freezing a parameter (false): no op records a backward for it, and optimizers built afterwards skip it.
  void set_requires_grad(bool on) const { p_->requires_grad = on; }
  const Shape& shape() const { return p_->value.shape(); }
  int64_t size(int64_t d) const { return p_->value.size(d); }
  int64_t dim() const { return p_->value.dim(); }
  const std::shared_ptr<VarImpl>& impl() const { return p_; }

 private:
  std::shared_ptr<VarImpl> p_;
};

namespace autograd {

bool grad_enabled();

// Inside its scope no op is recorded (evaluation, optimiser updates).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// Wraps an op's result: it requires a gradient when grad mode is on and any
// input does.
Var make_output(Tensor value, std::initializer_list<const Var*> inputs);

// Records the backward of an op. `out` is held weakly: when nothing downstream
// used it, no gradient can reach it and the closure is skipped. fn receives the
// gradient of the output (contiguous, same shape).
void record(const Var& out, std::function<void(const Tensor& grad_out)> fn);

// grad += g (g is taken over when grad is still undefined). No-op unless v requires grad.
void accumulate(const Var& v, Tensor g);
// grad[..., start:end, ...] += g along dim: the backward of a slice. Adds into
// the region in place when v already owns a gradient, instead of adding a
// zero-padded copy of g over the whole of it.
void accumulate_slice(const Var& v, int64_t dim, int64_t start, int64_t end, const Tensor& g);

// Seeds d(loss)/d(loss) = 1 (loss must have one element), runs the tape backwards,
// and clears it.
void backward(const Var& loss);

// Drops whatever was recorded (e.g. after an evaluation forward under grad mode).
void clear_tape();
size_t tape_size();

}  // namespace autograd
}  // namespace mapet
