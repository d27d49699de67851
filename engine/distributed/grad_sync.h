// Data-parallel gradients, as PyTorch DDP sums them.
//
// Parameters, in reverse order of registration (about the order in which the
// backward pass finishes them), are grouped into buckets of about 25 MB
// (MAPET_BUCKET_MB). During the backward of a step's last micro-batch, a
// bucket's all-reduce starts as soon as the walk is past the first use of
// every parameter in it (autograd::first_use: nothing can add to those
// gradients any more), in bucket order on every rank, and runs while the rest
// of the backward does. finish() waits for them and divides the sums by the
// world size: every rank then holds the mean gradient over the global batch,
// bit for bit the same on all ranks, which is what one process computing the
// whole batch gets up to the rounding of sums taken in another order.
//
// A parameter without a gradient on every rank keeps none (AdamW skips it, as
// torch skips grad=None); one with a gradient on some ranks gets the mean with
// zeros for the others.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/autograd.h"
#include "engine/distributed/communicator.h"
#include "engine/nn/module.h"

namespace mapet::dist {

// MAPET_BUCKET_MB (default 25) in bytes.
int64_t bucket_bytes_from_env();

class GradSync final : public autograd::BackwardObserver {
 public:
  GradSync(Communicator& comm, std::vector<nn::NamedParam> params, int64_t bucket_bytes = bucket_bytes_from_env());
  ~GradSync() override;

  // Watching the backward of the step's last micro-batch (autograd::backward's observer).
  void begin(size_t tape_size) override;
  void after(size_t index) override;

  // Starts what has not started, waits for all of it, and leaves the mean
  // gradients in the parameters. Call once per optimizer step, after the backwards.
  void finish();

  // Off: every bucket starts in finish(), after the backward (how much the overlap hides, for the bench;
  // also MAPET_GRAD_OVERLAP=0).
  void set_overlap(bool on) { overlap_ = on; }
  int num_buckets() const { return int(buckets_.size()); }
  int64_t bytes() const { return bytes_; }
  // Seconds the last finish() waited: the communication the backward did not hide.
  double last_wait() const { return last_wait_; }
  // Buckets that the last step started during the backward (the rest started in finish()).
  int last_overlapped() const { return last_overlapped_; }
  // Of those, the ones whose all-reduce had completed before the backward ended (seen by the per-op test):
  // communication that really ran during the backward, not after it.
  int last_completed_in_backward() const { return last_completed_in_backward_; }
  // The share of the last step's backward (its tape entries) still to run when the first bucket started (0: none
  // started during the backward).
  double last_first_launch_ahead() const { return last_first_launch_ahead_; }

 private:
  struct Bucket {
    std::vector<size_t> params;  // indices into params_
    int64_t floats = 0;          // gradient elements; then one "has a gradient" flag per parameter
    std::vector<float> flat;
    int64_t ready_at = 0;        // the walk's index at which its gradients are final
    std::unique_ptr<Pending> pending;
  };
  void launch(size_t b);

  Communicator& comm_;
  std::vector<nn::NamedParam> params_;
  std::vector<Bucket> buckets_;
  size_t launched_ = 0, completed_ = 0;
  bool overlap_ = true, walking_ = false;
  int64_t bytes_ = 0;
  double last_wait_ = 0;
  int last_overlapped_ = 0, last_completed_in_backward_ = 0;
  size_t tape_size_ = 0;
  double first_launch_ahead_ = 0, last_first_launch_ahead_ = 0;
};

}  // namespace mapet::dist
