#include "engine/ops/cross_entropy.h"

#include <cmath>

#include "engine/backend.h"
#include "kernels/cpu/cross_entropy.h"
#include "kernels/cuda/cross_entropy.cuh"

namespace mapet::ops {

Var cross_entropy(const Var& logits, const Tensor& labels, float label_smoothing, int64_t ignore_index) {
  if (logits.dim() != 2) throw Error("cross_entropy: logits must be [N, C], got " + logits.value().str());
  const int64_t rows = logits.size(0), classes = logits.size(1);
  Tensor lab = labels.dtype() == DType::i64 ? labels.contiguous() : labels.to(DType::i64);
  if (lab.numel() != rows) throw Error("cross_entropy: " + std::to_string(rows) + " rows of logits but labels " + lab.str());
  Tensor lv = logits.value().contiguous();
  const Device dev = backend::device_of("cross_entropy", {lv, lab});
  Tensor row_loss = Tensor::empty({rows}, DType::f32, dev), lse = Tensor::empty({rows}, DType::f32, dev);
  int64_t counted = 0;
  try {
    counted = MAPET_BACKEND_CALL(dev, cross_entropy_forward, lv.data<float>(), lab.data<int64_t>(),
                                 row_loss.data<float>(), lse.data<float>(), rows, classes, label_smoothing,
                                 ignore_index);
  } catch (const std::out_of_range& e) {
    throw Error(e.what());
  }
  // Sum in double, in row order: the same loss for every thread count.
  double total = 0.0;
  const Tensor row_loss_host = row_loss.to(Device::cpu);
  const float* rl = row_loss_host.data<float>();
  for (int64_t i = 0; i < rows; ++i) total += rl[i];
  Tensor y = Tensor::full({1}, counted ? static_cast<float>(total / static_cast<double>(counted)) : NAN).to(dev);
  Var out = autograd::make_output(y, {&logits});
  autograd::record(out, [logits, lv, lab, lse, rows, classes, label_smoothing, ignore_index, counted,
                         dev](const Tensor& g) {
    Tensor d = Tensor::empty(logits.shape(), DType::f32, dev);
    float scale = counted ? g.item() / static_cast<float>(counted) : 0.0f;
    MAPET_BACKEND_CALL(dev, cross_entropy_backward, lv.data<float>(), lab.data<int64_t>(), lse.data<float>(),
                       d.data<float>(), rows, classes, label_smoothing, ignore_index, scale);
    autograd::accumulate(logits, d);
  });
  return out;
}

}  // namespace mapet::ops
