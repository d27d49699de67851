#include "engine/autograd.h"

#include "engine/ops/elementwise.h"
#include "engine/backend.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/elementwise.cuh"

namespace mapet::autograd {
namespace {

struct TapeEntry {
  std::weak_ptr<VarImpl> out;
  std::function<void(const Tensor&)> fn;
};

thread_local bool g_grad_enabled = true;
thread_local std::vector<TapeEntry> g_tape;
// Which tape the uses noted by make_output belong to: a new number each time the tape is taken or cleared.
thread_local uint64_t g_generation = 1, g_walking = 0;

void note_use(const Var& v) {
  if (!v.requires_grad()) return;
  VarImpl& p = *v.impl();
  if (p.use_generation != g_generation) p.use_generation = g_generation, p.first_use = g_tape.size();
}

void check_unsealed(const VarImpl& p) {
  if (p.sealed)
    throw Error("autograd: a gradient for " + p.value.str() +
                " arrived after data parallel had sent it (an op reads it without listing it in make_output)");
}

}  // namespace

bool grad_enabled() { return g_grad_enabled; }

NoGradGuard::NoGradGuard() : prev_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = prev_; }

Var make_output(Tensor value, std::initializer_list<const Var*> inputs) {
  bool req = false;
  if (g_grad_enabled)
    for (const Var* v : inputs)
      if (v && v->requires_grad()) req = true, note_use(*v);
  return Var(std::move(value), req);
}

Var make_output(Tensor value, const std::vector<Var>& inputs) {
  bool req = false;
  if (g_grad_enabled)
    for (const Var& v : inputs)
      if (v.requires_grad()) req = true, note_use(v);
  return Var(std::move(value), req);
}

void record(const Var& out, std::function<void(const Tensor&)> fn) {
  if (!out.requires_grad()) return;
  g_tape.push_back(TapeEntry{out.impl(), std::move(fn)});
}

void accumulate(const Var& v, Tensor g) {
  if (!v.requires_grad()) return;
  VarImpl& p = *v.impl();
  check_unsealed(p);
  if (g.shape() != p.value.shape())
    throw Error("autograd: gradient " + g.str() + " does not match its value " + p.value.str());
  if (!p.grad.defined()) {
    p.grad = std::move(g);  // may be a view or shared with another gradient...
  } else if (!p.grad.is_contiguous() || p.grad.storage_use_count() > 1) {
    // ...so never add into it in place: the sum goes to a fresh buffer (one
    // pass, where a copy and then an add would be two).
    p.grad = ops::add(Var(p.grad), Var(g)).value();
  } else {
    ops::add_inplace(p.grad, g);
  }
}

void accumulate_slice(const Var& v, int64_t dim, int64_t start, int64_t end, const Tensor& g) {
  if (!v.requires_grad()) return;
  VarImpl& p = *v.impl();
  check_unsealed(p);
  const Shape& shape = p.value.shape();
  if (!p.grad.defined() || !p.grad.is_contiguous() || p.grad.storage_use_count() > 1 || p.grad.dtype() != DType::f32) {
    Tensor dx = Tensor::zeros(shape, DType::f32, g.device());
    dx.slice(dim, start, end).copy_(g);
    accumulate(v, dx);
    return;
  }
  if (g.shape() != p.grad.slice(dim, start, end).shape())
    throw Error("autograd: slice gradient " + g.str() + " does not match " + p.grad.str() + " along dim " +
                std::to_string(dim));
  // The region is `outer` contiguous runs of (end - start) x inner elements.
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < dim; ++i) outer *= shape[i];
  for (size_t i = dim + 1; i < shape.size(); ++i) inner *= shape[i];
  const int64_t run = (end - start) * inner;
  Tensor gc = g.contiguous();
  const Device dev = backend::device_of("accumulate_slice", {p.grad, gc});
  MAPET_BACKEND_CALL(dev, add_inplace_runs, p.grad.data<float>() + start * inner, gc.data<float>(), outer, run,
                     shape[dim] * inner);
}

void backward(const Var& loss, BackwardObserver* observer) {
  if (!loss.requires_grad()) throw Error("backward: the loss does not require a gradient (no parameter reached it)");
  if (loss.value().numel() != 1) throw Error("backward: the loss must have one element, got " + loss.value().str());
  // d(loss)/d(loss) = 1, on the loss's device: every backward closure then sees gradients where its values are.
  accumulate(loss, Tensor::full(loss.shape(), 1.0f).to(loss.value().device()));
  // Take the tape first: closures must not see entries of a later forward.
  std::vector<TapeEntry> tape;
  tape.swap(g_tape);
  g_walking = g_generation++;
  struct EndWalk {
    ~EndWalk() { g_walking = 0; }
  } end_walk;
  // Hold every output that is still alive until its own entry has run: an
  // intermediate result (a temporary of the forward) is often owned only by the
  // closures of the ops that consumed it, which are freed during the walk.
  std::vector<std::shared_ptr<VarImpl>> outs(tape.size());
  for (size_t i = 0; i < tape.size(); ++i) outs[i] = tape[i].out.lock();
  if (observer) observer->begin(tape.size());
  for (size_t i = tape.size(); i-- > 0;) {
    if (outs[i] && outs[i]->grad.defined()) tape[i].fn(outs[i]->grad);
    // Free this op's saved tensors and output now, not at the end of the walk.
    tape[i].fn = nullptr;
    outs[i].reset();
    if (observer) observer->after(i);
  }
}

int64_t first_use(const Var& v) {
  if (!v.defined() || g_walking == 0 || v.impl()->use_generation != g_walking) return -1;
  return static_cast<int64_t>(v.impl()->first_use);
}

void seal(const Var& v, bool sealed) {
  if (v.defined()) v.impl()->sealed = sealed;
}

void clear_tape() {
  g_tape.clear();
  ++g_generation;
}
size_t tape_size() { return g_tape.size(); }

}  // namespace mapet::autograd
