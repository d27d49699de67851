#include "engine/distributed/grad_sync.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include "kernels/cpu/elementwise.h"

namespace mapet::dist {

int64_t bucket_bytes_from_env() {
  const char* s = std::getenv("MAPET_BUCKET_MB");
  if (!s || !*s) return int64_t(25) << 20;
  char* end = nullptr;
  const double mb = std::strtod(s, &end);
  if (end == s || *end || !(mb > 0)) throw Error("MAPET_BUCKET_MB='" + std::string(s) + "': expected a size in MB > 0");
  return std::max<int64_t>(4, int64_t(mb * double(1 << 20)));
}

GradSync::GradSync(Communicator& comm, std::vector<nn::NamedParam> params, int64_t bucket_bytes)
    : comm_(comm), params_(std::move(params)) {
  const char* overlap = std::getenv("MAPET_GRAD_OVERLAP");  // 0: all-reduce after the backward (the bench's reference)
  overlap_ = !(overlap && std::string(overlap) == "0");
  // Reverse order; a new bucket once the current one holds bucket_bytes.
  for (size_t i = params_.size(); i-- > 0;) {
    const Tensor& v = params_[i].var.value();
    if (v.dtype() != DType::f32)
      throw Error("data parallel: parameter '" + params_[i].name + "' is " + v.str() + "; gradients are summed in f32");
    if (buckets_.empty() || buckets_.back().floats * 4 >= bucket_bytes) buckets_.emplace_back();
    Bucket& b = buckets_.back();
    b.params.push_back(i);
    b.floats += v.numel();
  }
  for (Bucket& b : buckets_) {
    b.flat.resize(size_t(b.floats) + b.params.size());
    bytes_ += int64_t(b.flat.size()) * 4;
  }
}

GradSync::~GradSync() {
  // A step that threw half-way: the collectives in flight still own their buffers.
  for (Bucket& b : buckets_) b.pending.reset();
  for (const nn::NamedParam& p : params_) autograd::seal(p.var, false);
}

void GradSync::begin(size_t tape_size) {
  first_launch_ahead_ = 0;
  if (!overlap_) return;
  walking_ = true;
  tape_size_ = tape_size;
  for (Bucket& b : buckets_) {
    b.ready_at = std::numeric_limits<int64_t>::max();  // no parameter used: ready at once
    for (size_t i : b.params) {
      const int64_t u = autograd::first_use(params_[i].var);
      if (u >= 0) b.ready_at = std::min(b.ready_at, u);
    }
  }
  if (tape_size == 0) after(0);
}

void GradSync::after(size_t index) {
  if (!walking_) return;
  // Same order on every rank: bucket k starts only after bucket k - 1.
  if (launched_ == 0 && !buckets_.empty() && buckets_[0].ready_at >= int64_t(index) && tape_size_ > 0)
    first_launch_ahead_ = double(index) / double(tape_size_);
  while (launched_ < buckets_.size() && buckets_[launched_].ready_at >= int64_t(index)) launch(launched_++);
  // MPI moves a collective along only inside MPI calls: one test per op of the backward keeps them going.
  if (completed_ < launched_ && buckets_[completed_].pending->done()) ++completed_;
  if (index == 0) walking_ = false;
}

void GradSync::launch(size_t k) {
  Bucket& b = buckets_[k];
  float* out = b.flat.data();
  float* flags = out + b.floats;
  for (size_t j = 0; j < b.params.size(); ++j) {
    const Var& v = params_[b.params[j]].var;
    const int64_t n = v.value().numel();
    if (v.grad().defined()) {
      const Tensor g = v.grad().dtype() == DType::f32 ? v.grad().contiguous() : v.grad().to(DType::f32);
      std::memcpy(out, g.data<float>(), size_t(n) * 4);
      flags[j] = 1.0f;
    } else {
      std::memset(out, 0, size_t(n) * 4);
      flags[j] = 0.0f;
    }
    autograd::seal(v, true);
    out += n;
  }
  b.pending = comm_.start_all_reduce(b.flat.data(), int64_t(b.flat.size()), Elem::f32,
                                     "the gradient all-reduce (bucket " + std::to_string(k + 1) + " of " +
                                         std::to_string(buckets_.size()) + ", " +
                                         std::to_string(b.flat.size() * 4 >> 10) + " KB)");
}

void GradSync::finish() {
  using clock = std::chrono::steady_clock;
  walking_ = false;
  last_overlapped_ = int(launched_);
  last_completed_in_backward_ = int(completed_);
  last_first_launch_ahead_ = first_launch_ahead_;
  const auto t0 = clock::now();
  while (launched_ < buckets_.size()) launch(launched_++);
  const float inv = 1.0f / float(comm_.size());
  for (Bucket& b : buckets_) {
    b.pending->wait();
    b.pending.reset();
    const float* in = b.flat.data();
    const float* flags = in + b.floats;
    for (size_t j = 0; j < b.params.size(); ++j) {
      const Var& v = params_[b.params[j]].var;
      const int64_t n = v.value().numel();
      autograd::seal(v, false);
      if (flags[j] == 0.0f) {
        v.zero_grad();  // no rank had one
      } else {
        Tensor g = Tensor::empty(v.shape());
        cpu::scale(in, inv, g.data<float>(), n);
        v.set_grad(std::move(g));
      }
      in += n;
    }
  }
  last_wait_ = std::chrono::duration<double>(clock::now() - t0).count();
  launched_ = completed_ = 0;
}

}  // namespace mapet::dist
