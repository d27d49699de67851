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

std::string gelu_forward(const float* x, float* y, int64_t n, void* stream = nullptr);
std::string gelu_backward(const float* x, const float* dy, float* dx, int64_t n, void* stream = nullptr);
std::string adamw_step(const common::AdamWStep& s, float* param, const float* grad, float* m, float* v, int64_t n,
                       void* stream = nullptr);

// Round trip host -> device -> kernel -> host, for tests on a machine with a GPU.
std::string gelu_forward_host(const float* x, float* y, int64_t n);

}  // namespace mapet::cuda
