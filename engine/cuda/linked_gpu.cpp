// mapet_backend_gpu: the nvcc-built kernels and NVIDIA's cudart (engine/CMakeLists.txt).
#include "engine/cuda/runtime.h"

namespace mapet::device {
const char* linked_backend() { return "gpu"; }
}  // namespace mapet::device
