// Host-to-device copies of the loader's batches that overlap the training
// step: the batch is staged in page-locked (pinned) host memory and copied on
// a stream of its own while the previous step's kernels still run on the
// compute stream; the compute stream waits for the copy (an event), not the host.
//
//   device::Uploader up;
//   for (...) {
//     std::vector<Tensor> b = up.upload({batch.images, batch.tokens});  // device tensors
//     step(b);  // queued on the current stream
//   }
//
// Two slots, used in turn: the tensors upload() returns live in the slot's
// device buffers and stay valid until the upload after next (keep a copy,
// Tensor::clone(), to hold them longer). A slot is refilled only after the
// compute stream has finished the step that read it (an event recorded when
// the next upload began), so the copy of batch i overlaps step i-1, never a
// step that still reads the buffers it overwrites.
#pragma once
#include <array>
#include <memory>
#include <vector>

#include "engine/cuda/runtime.h"
#include "engine/tensor.h"

namespace mapet::device {

class Uploader {
 public:
  Uploader();
  ~Uploader();
  Uploader(const Uploader&) = delete;
  Uploader& operator=(const Uploader&) = delete;

  // CPU tensors in; Device::cuda tensors out (same shapes and dtypes,
  // contiguous), ready for work queued on the current stream after the call.
  // An undefined tensor stays undefined.
  std::vector<Tensor> upload(const std::vector<Tensor>& host);

  // Bytes of pinned staging memory held (both slots).
  size_t pinned_bytes() const;

 private:
  struct Slot {
    void* pinned = nullptr;
    size_t pinned_size = 0;
    std::vector<Tensor> device;  // one per field, reused while the shapes stay
    std::unique_ptr<Event> copied, consumed;
  };
  std::unique_ptr<Stream> copy_stream_;
  std::array<Slot, 2> slots_;
  uint64_t uploads_ = 0;
};

}  // namespace mapet::device
