#include "engine/ops/shape.h"

#include <cstring>
#include <functional>

#include "engine/backend.h"
#include "engine/ops/elementwise.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cuda/embedding.cuh"
#include "kernels/cuda/reduce.cuh"

namespace mapet::ops {

namespace {
int64_t norm_dim(int64_t d, int64_t n, const char* op) {
  if (d < 0) d += n;
  if (d < 0 || d >= n) throw Error(std::string(op) + ": dim out of range");
  return d;
}
}  // namespace

Var reshape(const Var& x, const Shape& shape) {
  Tensor y = x.value().contiguous().view(shape);
  Var out = autograd::make_output(y, {&x});
  autograd::record(out, [x](const Tensor& g) { autograd::accumulate(x, g.contiguous().view(x.shape())); });
  return out;
}

Var transpose(const Var& x, int64_t a, int64_t b) {
  Var out = autograd::make_output(x.value().transpose(a, b), {&x});
  autograd::record(out, [x, a, b](const Tensor& g) { autograd::accumulate(x, g.transpose(a, b)); });
  return out;
}

Var permute(const Var& x, const std::vector<int64_t>& dims) {
  std::vector<int64_t> inverse(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) inverse[norm_dim(dims[i], x.dim(), "permute")] = static_cast<int64_t>(i);
  Var out = autograd::make_output(x.value().permute(dims), {&x});
  autograd::record(out, [x, inverse](const Tensor& g) { autograd::accumulate(x, g.permute(inverse)); });
  return out;
}

Var contiguous(const Var& x) {
  if (x.value().is_contiguous()) return x;
  Var out = autograd::make_output(x.value().contiguous(), {&x});
  autograd::record(out, [x](const Tensor& g) { autograd::accumulate(x, g); });
  return out;
}

Var slice(const Var& x, int64_t dim, int64_t start, int64_t end) {
  dim = norm_dim(dim, x.dim(), "slice");
  Var out = autograd::make_output(x.value().slice(dim, start, end), {&x});
  autograd::record(out, [x, dim, start, end](const Tensor& g) { autograd::accumulate_slice(x, dim, start, end, g); });
  return out;
}

Var concat(const std::vector<Var>& xs, int64_t dim) {
  if (xs.empty()) throw Error("concat: no inputs");
  dim = norm_dim(dim, xs[0].dim(), "concat");
  Shape s = xs[0].shape();
  s[dim] = 0;
  for (const Var& x : xs) {
    Shape t = x.shape();
    t[dim] = 0;
    if (t != s || x.dim() != xs[0].dim())
      throw Error("concat: " + x.value().str() + " does not match " + xs[0].value().str() + " outside dim " +
                  std::to_string(dim));
  }
  for (const Var& x : xs) s[dim] += x.size(dim);
  std::vector<std::reference_wrapper<const Tensor>> values;
  for (const Var& x : xs) values.emplace_back(x.value());
  Device dev = Device::cpu;
  for (const Tensor& v : values) dev = backend::device_of("concat", {values.front().get(), v});
  Tensor y = Tensor::empty(s, DType::f32, dev);  // filled by strided copies (cuda::copy_strided on the device)
  std::vector<int64_t> starts;
  int64_t at = 0;
  for (const Var& x : xs) {
    starts.push_back(at);
    y.slice(dim, at, at + x.size(dim)).copy_(x.value());
    at += x.size(dim);
  }
  Var out = autograd::make_output(y, xs);
  autograd::record(out, [xs, starts, dim](const Tensor& g) {
    for (size_t i = 0; i < xs.size(); ++i)
      if (xs[i].requires_grad())
        autograd::accumulate(xs[i], g.slice(dim, starts[i], starts[i] + xs[i].size(dim)).contiguous());
  });
  return out;
}

Var index_select(const Var& x, int64_t dim, const Tensor& index) {
  dim = norm_dim(dim, x.dim(), "index_select");
  Tensor idx = index.to(Device::cpu).to(DType::i64).contiguous();  // checked (and, on the CPU, read) on the host
  const int64_t n = idx.numel(), size = x.size(dim);
  const int64_t* ip = idx.data<int64_t>();
  for (int64_t i = 0; i < n; ++i)
    if (ip[i] < 0 || ip[i] >= size)
      throw Error("index_select: index " + std::to_string(ip[i]) + " out of range for dim " + std::to_string(dim) +
                  " of " + x.value().str());
  Shape s = x.shape();
  s[dim] = n;
  const Device dev = x.value().device();
  Tensor y = Tensor::empty(s, DType::f32, dev);
  Tensor idx_dev;  // the indices on the device, for its kernels
  if (dev == Device::cuda) {  // rows of a table: the embedding lookup kernel (indices checked above)
    if (dim != 0 || x.value().dtype() != DType::f32) backend::no_cuda_kernel("index_select (f32, dim 0 only)");
    Tensor xv = x.value().contiguous();
    idx_dev = idx.to(dev);
    const int64_t rows = x.size(0), width = rows ? xv.numel() / rows : 0;
    backend::cuda_call("embedding_forward", [&] {
      cuda::embedding_forward(xv.data<float>(), idx_dev.data<int64_t>(), y.data<float>(), n, rows, width);
    });
  } else {
    for (int64_t i = 0; i < n; ++i) y.slice(dim, i, i + 1).copy_(x.value().slice(dim, ip[i], ip[i] + 1));
  }
  Var out = autograd::make_output(y, {&x});
  autograd::record(out, [x, idx, idx_dev, dim, n, dev](const Tensor& g) {
    Tensor dx = Tensor::zeros(x.shape(), DType::f32, g.device());
    if (dev == Device::cuda) {  // the embedding backward: rows added in index order, as the loop below
      Tensor gc = g.contiguous();
      const int64_t rows = x.size(0), width = rows ? x.value().numel() / rows : 0;
      backend::cuda_call("embedding_backward", [&] {
        cuda::embedding_backward(gc.data<float>(), idx_dev.data<int64_t>(), dx.data<float>(), 1, n, rows, width);
      });
      autograd::accumulate(x, dx);
      return;
    }
    const int64_t* ip = idx.data<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
      Tensor dst = dx.slice(dim, ip[i], ip[i] + 1);
      Tensor sum = dst.clone();  // repeated indices add up
      add_inplace(sum, g.slice(dim, i, i + 1));
      dst.copy_(sum);
    }
    autograd::accumulate(x, dx);
  });
  return out;
}

Var gather_tokens(const Var& x, const Tensor& index) {
  if (x.dim() < 2 || index.dim() != 2 || index.size(0) != x.size(0))
    throw Error("gather_tokens: x " + x.value().str() + " and index " + index.str() + " do not fit");
  Tensor xv = x.value().contiguous();
  // The index lives with x (a model places it on its device); it is checked on the host.
  const Device dev = backend::device_of("gather_tokens", {xv, index});
  Tensor idx = index.dtype() == DType::i64 ? index.contiguous() : index.to(DType::i64);
  const Tensor idx_host = idx.to(Device::cpu);
  const int64_t B = x.size(0), T = x.size(1), n = idx.size(1), row = B * T != 0 ? xv.numel() / (B * T) : 0;
  const int64_t* ip = idx_host.data<int64_t>();
  for (int64_t i = 0; i < B * n; ++i)
    if (ip[i] < 0 || ip[i] >= T)
      throw Error("gather_tokens: index " + std::to_string(ip[i]) + " out of range for " + x.value().str());
  Shape s = x.shape();
  s[1] = n;
  Tensor y = Tensor::empty(s, DType::f32, dev);
  // B tables of [T][row], n rows looked up in each (kernels/cpu/embedding.h).
  MAPET_BACKEND_CALL(dev, embedding_forward, xv.data<float>(), idx.data<int64_t>(), y.data<float>(), B, n, T, row);
  Var out = autograd::make_output(y, {&x});
  autograd::record(out, [x, idx, B, T, n, row, dev](const Tensor& gv) {
    Tensor g = gv.contiguous();
    Tensor dx = Tensor::zeros(x.shape(), DType::f32, dev);
    // Per sample in index order: repeated indices add up in the same order on both backends.
    MAPET_BACKEND_CALL(dev, embedding_backward, g.data<float>(), idx.data<int64_t>(), dx.data<float>(), B, n, T, row);
    autograd::accumulate(x, dx);
  });
  return out;
}

Var expand_batch(const Var& x, int64_t n) {
  if (x.size(0) != 1) throw Error("expand_batch: dim 0 of " + x.value().str() + " must be 1");
  Tensor xv = x.value().contiguous();
  const Device dev = backend::device_of("expand_batch", {xv});
  Shape s = x.shape();
  s[0] = n;
  Tensor y = Tensor::empty(s, DType::f32, dev);
  const int64_t row = xv.numel();
  if (dev == Device::cuda) {  // n device-to-device copies in stream order
    for (int64_t i = 0; i < n; ++i) y.slice(0, i, i + 1).copy_(xv);
  } else {
    for (int64_t i = 0; i < n; ++i) std::memcpy(y.data<float>() + i * row, xv.data<float>(), static_cast<size_t>(row) * 4);
  }
  Var out = autograd::make_output(y, {&x});
  autograd::record(out, [x, n, row, dev](const Tensor& gv) {
    Tensor g = gv.contiguous();
    Tensor dx = Tensor::empty(x.shape(), DType::f32, dev);
    MAPET_BACKEND_CALL(dev, sum_rows, g.data<float>(), dx.data<float>(), n, row);
    autograd::accumulate(x, dx);
  });
  return out;
}

}  // namespace mapet::ops
