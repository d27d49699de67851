#include "kernels/cpu/adamw.h"

namespace mapet::cpu {

void adamw_step(const common::AdamWStep& s, float* param, const float* grad, float* m, float* v, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) common::adamw_update(s, param[i], grad[i], m[i], v[i]);
}

}  // namespace mapet::cpu
