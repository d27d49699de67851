#include "engine/backend.h"

namespace mapet::backend {

Device device_of(const char* op, std::initializer_list<std::reference_wrapper<const Tensor>> ts) {
  const Tensor* first = nullptr;
  for (const Tensor& t : ts) {
    if (!t.defined()) continue;
    if (!first) {
      first = &t;
    } else if (t.device() != first->device()) {
      throw Error(std::string(op) + ": tensors on different devices (" + device_name(first->device()) + " and " +
                  device_name(t.device()) + ")");
    }
  }
  return first ? first->device() : Device::cpu;
}

}  // namespace mapet::backend
