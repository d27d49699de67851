#include "kernels/cpu/adamw.h"

#include "kernels/cpu/parallel.h"

namespace mapet::cpu::MAPET_ISA {

void adamw_step(const common::AdamWStep& s, float* param, const float* grad, float* m, float* v, int64_t n) {
  parallel_blocks(n, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) common::adamw_update(s, param[i], grad[i], m[i], v[i]);
  });
}

}  // namespace mapet::cpu::MAPET_ISA
