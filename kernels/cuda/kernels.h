// The GPU itself (kernels/cuda/device.cu). The kernels' entry points are in
// kernels/cuda/X.cuh, one header per op.
#pragma once
#include <string>

namespace mapet::cuda {

int device_count();  // 0 when there is no GPU or no driver (never throws)
std::string device_name(int device);

}  // namespace mapet::cuda
