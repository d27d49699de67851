#include "engine/cuda/upload.h"

#include <cstring>

namespace mapet::device {

Uploader::Uploader() : copy_stream_(std::make_unique<Stream>()) {
  for (Slot& s : slots_) {
    s.copied = std::make_unique<Event>();
    s.consumed = std::make_unique<Event>();
  }
}

Uploader::~Uploader() {
  // The copies may still read the staging buffers: wait for them before freeing.
  try {
    copy_stream_->synchronize();
  } catch (...) {
  }
  for (Slot& s : slots_) pinned_free(s.pinned);
}

size_t Uploader::pinned_bytes() const { return slots_[0].pinned_size + slots_[1].pinned_size; }

std::vector<Tensor> Uploader::upload(const std::vector<Tensor>& host) {
  void* compute = current_stream();
  Slot& slot = slots_[uploads_ % 2];
  // The step queued since the last upload read the other slot: mark where it ends.
  if (uploads_ > 0) slots_[(uploads_ - 1) % 2].consumed->record(compute);
  ++uploads_;

  size_t total = 0;
  std::vector<Tensor> src(host.size());
  for (size_t i = 0; i < host.size(); ++i) {
    if (!host[i].defined()) continue;
    if (host[i].device() != Device::cpu) throw Error("Uploader: batch field " + std::to_string(i) + " " + host[i].str() + " is not on the CPU");
    src[i] = host[i].contiguous();
    total += (src[i].nbytes() + 255) / 256 * 256;
  }
  // The last copy from this slot's staging buffer must be done before the host writes it again.
  slot.copied->synchronize();
  if (slot.pinned_size < total) {
    pinned_free(slot.pinned);
    slot.pinned = nullptr, slot.pinned_size = 0;
    slot.pinned = pinned_alloc(total);
    slot.pinned_size = total;
  }
  // ... and the step that read this slot's device buffers must be done before the copy overwrites them.
  stream_wait(copy_stream_->get(), *slot.consumed);
  slot.device.resize(host.size());
  size_t offset = 0;
  {
    StreamGuard on_copy(copy_stream_->get());  // new device buffers are allocated in the copy stream's order
    for (size_t i = 0; i < src.size(); ++i) {
      Tensor& d = slot.device[i];
      if (!src[i].defined()) {
        d = Tensor();
        continue;
      }
      if (!d.defined() || d.shape() != src[i].shape() || d.dtype() != src[i].dtype())
        d = Tensor::empty(src[i].shape(), src[i].dtype(), Device::cuda);
      char* stage = static_cast<char*>(slot.pinned) + offset;
      std::memcpy(stage, src[i].raw_data(), src[i].nbytes());
      copy_to_device(d.raw_data(), stage, src[i].nbytes(), copy_stream_->get(), "Uploader");
      offset += (src[i].nbytes() + 255) / 256 * 256;
    }
  }
  slot.copied->record(copy_stream_->get());
  stream_wait(compute, *slot.copied);
  return slot.device;
}

}  // namespace mapet::device
