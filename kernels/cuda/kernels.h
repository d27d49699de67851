// Host entry points of the hand-written CUDA kernels. Pointers are device
// pointers; each call launches on the given stream (nullptr: default stream)
// and returns the launch error as text ("" on success).
#pragma once
#include <cstdint>
#include <string>

#include "kernels/common/adamw.h"

namespace mapet::cuda {

int device_count();  // 0 when there is no GPU or no driver (never throws)
std::string device_name(int device);

std::string adamw_step(const common::AdamWStep& s, float* param, const float* grad, float* m, float* v, int64_t n,
                       void* stream = nullptr);

}  // namespace mapet::cuda
