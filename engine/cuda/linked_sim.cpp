// mapet_backend_sim: every CUDA kernel and the runtime API under kernels/simt, on host memory.
#include "engine/cuda/runtime.h"

namespace mapet::device {
const char* linked_backend() { return "sim"; }
}  // namespace mapet::device
