// Data-parallel training in one binary, on whatever world runs it (`mpirun -np
// 2` in ctest; one process checks that nothing changes there): a tiny MaPeT
// model trained for three steps with its batch split over the ranks against
// one process training on the whole batch, which every rank also computes.
//
// Tolerance: the ranks' gradients are sums over fewer rows than the single
// process's, then added: the same numbers in another order, so f32 rounding
// differs in the last bits (about 1e-7 relative per sum). Three AdamW steps
// keep that at a few 1e-6 of each parameter; 2e-5 absolute plus 1e-4
// relative leaves room without hiding a wrong scale (a missing division by
// the world size moves parameters by ~lr = 3e-3). Where the order is fixed it
// is bit for bit: every rank holds the same parameters, and the bucket size
// (where the all-reduce starts) changes nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "apps/train/data_parallel.h"
#include "apps/train/trainer.h"
#include "engine/distributed/grad_sync.h"
#include "models/mapet.h"
#include "models/permutation.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

using apps::train::Trainer;

models::MapetConfig tiny() {
  models::MapetConfig c;
  c.vit.img_size = 16, c.vit.patch_size = 4, c.vit.embed_dim = 24, c.vit.depth = 2, c.vit.num_heads = 2;
  c.vit.layer_scale_init = 0.1f, c.vit.drop_path_rate = 0.0f;  // drop path draws per rank: not the 1-process draws
  c.objective = common::Objective::mapet, c.least_number = 5, c.vocab_size = 11;
  return c;
}

// Rows [from, to) of the step's global batch (the same on every rank).
models::MapetBatch batch_rows(const models::MapetConfig& c, int64_t B, int64_t step, int64_t from, int64_t to) {
  const int64_t P = c.vit.num_patches();
  models::MapetBatch b;
  Tensor images = test::randn({B, 3, c.vit.img_size, c.vit.img_size}, 1000 + uint64_t(step));
  b.images = images.slice(0, from, to).contiguous();
  b.tokens = Tensor::empty({to - from, P}, DType::i64);
  b.perm = Tensor::empty({to - from, P}, DType::i64);
  models::PermutationConfig pc;
  pc.grid = c.vit.grid(), pc.least_number = c.least_number;
  for (int64_t i = from; i < to; ++i) {
    const auto order = models::sample_permutation(pc, 5, uint64_t(step * B + i));
    for (int64_t p = 0; p < P; ++p) {
      b.perm.data<int64_t>()[(i - from) * P + p] = order[size_t(p)];
      b.tokens.data<int64_t>()[(i - from) * P + p] = (i * 7 + p * 3 + step) % c.vocab_size;
    }
  }
  return b;
}

struct Result {
  std::vector<double> losses, norms;
  std::vector<Tensor> params;
  int overlapped = 0, completed_in_backward = 0;
  double first_launch_ahead = 1;  // the least share of a backward still to run when its first bucket started
};

// Three optimizer steps at a global batch of B: on every rank's share (data_parallel) or all of it.
Result train(bool data_parallel, int64_t B, int64_t accum) {
  dist::Communicator& w = dist::world();
  const models::MapetConfig c = tiny();
  models::MapetModel model(c);
  model.init_weights(3);
  model.train(true);
  apps::train::TrainerConfig tc;
  tc.adamw.lr = 3e-3f;
  tc.schedule.base_lr = 3e-3f, tc.schedule.warmup_steps = 0, tc.schedule.total_steps = 3;
  tc.accum_steps = accum;
  tc.clip_grad = 0.5;  // clipped on the all-reduced gradient: the same norm as one process's
  tc.data_parallel = data_parallel;
  Trainer trainer(model, tc);
  Generator g(1);
  nn::Context ctx{&g};
  const int ranks = data_parallel ? w.size() : 1, rank = data_parallel ? w.rank() : 0;
  const int64_t share = B / ranks, micro = share / accum;
  Result r;
  for (int64_t step = 0; step < 3; ++step) {
    double loss = 0;
    for (int64_t k = 0; k < accum; ++k) {
      const int64_t from = rank * share + k * micro;
      loss += trainer.backward(model.forward(batch_rows(c, B, step, from, from + micro), ctx).loss);
    }
    loss /= double(accum);
    if (data_parallel) apps::train::average_over_ranks(w, {&loss}, "the test loss");
    const apps::train::StepStats s = trainer.step();
    if (const dist::GradSync* gs = trainer.grad_sync()) {
      r.overlapped += gs->last_overlapped();
      r.completed_in_backward += gs->last_completed_in_backward();
      r.first_launch_ahead = std::min(r.first_launch_ahead, gs->last_first_launch_ahead());
    }
    r.losses.push_back(loss);
    r.norms.push_back(s.grad_norm);
  }
  for (const nn::NamedParam& p : model.named_parameters()) r.params.push_back(p.var.value().clone());
  return r;
}

void expect_close(const Result& got, const Result& want, const std::string& what) {
  double worst = 0;
  for (size_t s = 0; s < want.losses.size(); ++s) {
    EXPECT_NEAR(got.losses[s], want.losses[s], 1e-5 * std::abs(want.losses[s])) << what << ", step " << s + 1;
    EXPECT_NEAR(got.norms[s], want.norms[s], 1e-4 * want.norms[s]) << what << ", step " << s + 1;
  }
  for (size_t i = 0; i < want.params.size(); ++i) {
    const float* a = got.params[i].data<float>();
    const float* b = want.params[i].data<float>();
    for (int64_t j = 0; j < want.params[i].numel(); ++j) {
      const double d = std::abs(double(a[j]) - double(b[j]));
      worst = std::max(worst, d);
      ASSERT_LE(d, 2e-5 + 1e-4 * std::abs(double(b[j]))) << what << ": parameter " << i << ", element " << j;
    }
  }
  if (dist::world().rank() == 0) std::printf("%s: largest parameter difference %.3g\n", what.c_str(), worst);
}

// The bits of rank 0's parameters, on every rank.
void expect_same_on_every_rank(const Result& r) {
  for (const Tensor& p : r.params) {
    Tensor root = p.clone();
    dist::world().broadcast(root.raw_data(), int64_t(root.nbytes()), 0, "the test's parameter check");
    ASSERT_EQ(std::memcmp(root.raw_data(), p.raw_data(), p.nbytes()), 0) << "parameters differ between ranks";
  }
}

TEST(DataParallel, SplitBatchMatchesOneProcess) {
  const int n = dist::world().size();
  const int64_t B = 4 * n;  // 4 images per rank
  const Result want = train(false, B, 1);
  const Result got = train(true, B, 1);
  expect_close(got, want, std::to_string(n) + " ranks x 4 vs 1 x " + std::to_string(B));
  expect_same_on_every_rank(got);
  // With accumulation: 2 micro-batches of 2 per rank.
  const Result accum = train(true, B, 2);
  expect_close(accum, want, std::to_string(n) + " ranks x 2 x 2 accumulation vs 1 x " + std::to_string(B));
  expect_same_on_every_rank(accum);
}

TEST(DataParallel, BucketsChangeNothingAndOverlapTheBackward) {
  if (dist::world().size() == 1) GTEST_SKIP() << "one process: no gradient all-reduce";
  const Result one_bucket = train(true, 8, 1);
  ::setenv("MAPET_BUCKET_MB", "0.004", 1);  // ~4 KB: a bucket per few parameters
  const Result many = train(true, 8, 1);
  ::unsetenv("MAPET_BUCKET_MB");
  for (size_t i = 0; i < many.params.size(); ++i)
    ASSERT_EQ(std::memcmp(many.params[i].raw_data(), one_bucket.params[i].raw_data(), many.params[i].nbytes()), 0)
        << "parameter " << i;
  EXPECT_EQ(many.losses, one_bucket.losses);
  // Most buckets started during the backward, not after it.
  EXPECT_GT(many.overlapped, 3 * 5) << "buckets started before finish() over 3 steps";
  // Started early in it: the first bucket (the decoder's last parameters) with most of the backward still to run.
  EXPECT_GT(many.first_launch_ahead, 0.5);
  // And the all-reduces ran while it did: some completed before the backward ended (summed over the ranks, as a
  // rank that reaches a bucket late finds the other's half already there).
  int64_t done = many.completed_in_backward;
  dist::world().all_reduce(&done, 1, dist::Elem::i64, "the test's count of buckets done in the backward");
  if (dist::world().rank() == 0)
    std::printf("3 steps: %d buckets started during the backward (rank 0), %lld completed before it ended (all "
                "ranks); the first started with %.0f%% or more of the backward ahead\n",
                many.overlapped, (long long)done, 100 * many.first_launch_ahead);
  EXPECT_GT(done, 0) << "no all-reduce completed during a backward";
}

TEST(DataParallel, GradSyncSumsAndAverages) {
  // Parameters with and without gradients on some ranks, several buckets.
  dist::Communicator& w = dist::world();
  std::vector<nn::NamedParam> params;
  for (int i = 0; i < 5; ++i) params.emplace_back("p" + std::to_string(i), Var(Tensor::zeros({int64_t(3 + i)}), true));
  dist::GradSync sync(w, params, 16);
  EXPECT_EQ(sync.num_buckets(), 5);
  for (int i = 0; i < 5; ++i) {
    if (i == 1) continue;                      // no rank has a gradient
    if (i == 2 && w.rank() != 0) continue;     // only rank 0 has one
    params[size_t(i)].var.set_grad(Tensor::full({int64_t(3 + i)}, float(w.rank() + 1)));
  }
  sync.finish();
  const float mean = float(w.size() + 1) / 2;
  EXPECT_FALSE(params[1].var.grad().defined());
  EXPECT_EQ(params[0].var.grad().to_vector(), std::vector<float>(3, mean));
  EXPECT_EQ(params[4].var.grad().to_vector(), std::vector<float>(7, mean));
  EXPECT_EQ(params[2].var.grad().to_vector(), std::vector<float>(5, 1.0f / float(w.size())));
}

}  // namespace
}  // namespace mapet
