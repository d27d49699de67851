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
  // Data parallel (autograd::first_use, seal): where the forward first used this
  // Var (tape generation and index), and whether its gradient is already sent.
  uint64_t use_generation = 0;
  size_t first_use = 0;
  bool sealed = false;
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
// Every op lists the Vars it reads here: that is also where first_use() learns
// them.
Var make_output(Tensor value, std::initializer_list<const Var*> inputs);
Var make_output(Tensor value, const std::vector<Var>& inputs);

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

// Watches a backward walk: after(i) runs once tape entries i, i+1, ... have
// run (i counts down to 0). Data parallel uses it to send a parameter's
// gradient while the rest of the backward runs: once the walk is past the
// parameter's first_use, nothing can add to its gradient any more.
struct BackwardObserver {
  virtual ~BackwardObserver() = default;
  virtual void begin(size_t tape_size) {}
  virtual void after(size_t index) = 0;
};

// Seeds d(loss)/d(loss) = 1 (loss must have one element), runs the tape backwards,
// and clears it.
void backward(const Var& loss, BackwardObserver* observer = nullptr);

// During backward(): the tape index at which the forward being walked first
// passed v to an op (every entry that can add to v's gradient is at this index
// or later); -1 when it did not use v.
int64_t first_use(const Var& v);
// A sealed Var's gradient has been handed over (to an all-reduce): a gradient
// that still arrives is an Error (an op that does not list v in make_output).
void seal(const Var& v, bool sealed);

// Drops whatever was recorded (e.g. after an evaluation forward under grad mode).
void clear_tape();
size_t tape_size();

}  // namespace autograd
}  // namespace mapet
