#include "models/mapet.h"

#include "engine/ops/ops.h"
#include "engine/optim/adamw.h"
#include "models/permutation.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

models::MapetConfig tiny(common::Objective obj, int64_t L) {
  models::MapetConfig c;
  c.vit.img_size = 16, c.vit.patch_size = 4, c.vit.embed_dim = 24, c.vit.depth = 2, c.vit.num_heads = 2;
  c.vit.layer_scale_init = 0.1f;
  c.objective = obj, c.least_number = L, c.vocab_size = 11, c.mim_mask_count = 6;
  return c;
}

models::MapetBatch make_batch(const models::MapetConfig& c, int64_t B, uint64_t seed) {
  const int64_t P = c.vit.num_patches();
  models::MapetBatch b;
  b.images = test::randn({B, 3, c.vit.img_size, c.vit.img_size}, seed);
  b.tokens = Tensor::empty({B, P}, DType::i64);
  b.perm = Tensor::empty({B, P}, DType::i64);
  b.mask = Tensor::empty({B, P}, DType::u8);
  models::PermutationConfig pc;
  pc.grid = c.vit.grid(), pc.least_number = c.least_number;
  Generator g(seed + 1);
  for (int64_t i = 0; i < B; ++i) {
    auto order = models::sample_permutation(pc, seed, i);
    auto mask = models::sample_block_mask(c.vit.grid(), c.mim_mask_count, seed, i, 2);
    for (int64_t p = 0; p < P; ++p) {
      b.perm.data<int64_t>()[i * P + p] = order[p];
      b.tokens.data<int64_t>()[i * P + p] = static_cast<int64_t>(g.randint(c.vocab_size));
      b.mask.data<uint8_t>()[i * P + p] = mask[p];
    }
  }
  return b;
}

TEST(Mapet, ParameterNamesFollowTheOfficialCode) {
  models::MapetModel m(models::mapet_config("mapet_small_patch16_224"));
  for (const char* n : {"mask_positional_token", "decoder.weight", "decoder.bias", "blocks.3.ls1.gamma",
                        "blocks.3.ls2.gamma", "norm.weight", "pos_embed", "cls_token", "blocks.0.attn.kv.weight"})
    EXPECT_NO_THROW(m.parameter(n)) << n;
  EXPECT_EQ(m.parameter("decoder.weight").shape(), (Shape{8192, 384}));
  EXPECT_FLOAT_EQ(m.parameter("blocks.0.ls1.gamma").value().at({0}), 0.1f);
  EXPECT_THROW(m.parameter("head.weight"), Error);
  auto mim = models::mapet_config("mapet_tiny_patch16_224");
  mim.objective = common::Objective::mim;
  models::MapetModel mm(mim);
  EXPECT_NO_THROW(mm.parameter("mask_token"));
  EXPECT_THROW(mm.parameter("mask_positional_token"), Error);
}

// The query row predicting the patch of rank r may depend only on patches of rank < r:
// changing the image inside later patches (its own included) leaves its logits unchanged.
TEST(Mapet, QueryStreamSeesOnlyEarlierPatches) {
  for (auto obj : {common::Objective::mapet, common::Objective::pet}) {
    models::MapetConfig c = tiny(obj, 5);
    models::MapetModel m(c);
    m.init_weights(2);
    m.train(false);
    models::MapetBatch b = make_batch(c, 2, 31);
    nn::Context ctx;
    autograd::NoGradGuard ng;
    const int64_t P = 16, M = 17 - 5, q = 6;  // q: the 7th predicted token, rank L + q = 11
    const int64_t patch = b.perm.data<int64_t>()[0 * P + (5 - 1) + q];
    Tensor base = m.forward(b, ctx).logits.value();
    // Perturb the pixels of `patch` in sample 0.
    models::MapetBatch changed = b;
    changed.images = b.images.clone();
    for (int64_t ch = 0; ch < 3; ++ch)
      for (int64_t y = 0; y < 4; ++y)
        for (int64_t x = 0; x < 4; ++x)
          changed.images.data<float>()[((0 * 3 + ch) * 16 + (patch / 4) * 4 + y) * 16 + (patch % 4) * 4 + x] += 1.5f;
    Tensor after = m.forward(changed, ctx).logits.value();
    const int64_t V = c.vocab_size;
    for (int64_t row = 0; row < M; ++row) {
      double diff = 0;
      for (int64_t v = 0; v < V; ++v) diff = std::max(diff, double(std::abs(after.at({row, v}) - base.at({row, v}))));
      if (row <= q)
        EXPECT_LT(diff, 1e-6) << "objective " << int(obj) << ": row " << row << " saw the patch of rank " << 5 + q;
      else
        EXPECT_GT(diff, 1e-5) << "objective " << int(obj) << ": row " << row << " should see it";
    }
    for (int64_t row = M; row < 2 * M; ++row)  // sample 1 untouched
      for (int64_t v = 0; v < V; ++v) ASSERT_EQ(after.at({row, v}), base.at({row, v}));
  }
}

TEST(Mapet, InitialLossIsLogVocabularyAndTargetsFollowThePermutation) {
  models::MapetConfig c = tiny(common::Objective::mapet, 4);
  models::MapetModel m(c);
  m.init_weights(1);
  models::MapetBatch b = make_batch(c, 3, 5);
  nn::Context ctx;
  models::MapetOutput o = m.forward(b, ctx);
  EXPECT_EQ(o.per_sample, 17 - 4);
  EXPECT_EQ(o.logits.shape(), (Shape{3 * 13, 11}));
  EXPECT_NEAR(o.loss.value().item(), std::log(11.0f), 0.3f);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t q = 0; q < 13; ++q) {
      int64_t p = b.perm.data<int64_t>()[i * 16 + 3 + q];
      EXPECT_EQ(o.patch_index.data<int64_t>()[i * 13 + q], p);
      EXPECT_EQ(o.targets.data<int64_t>()[i * 13 + q], b.tokens.data<int64_t>()[i * 16 + p]);
    }
}

TEST(Mapet, EveryObjectiveLearnsATinyBatch) {
  for (auto obj : {common::Objective::mapet, common::Objective::pet, common::Objective::mim}) {
    models::MapetConfig c = tiny(obj, 6);
    models::MapetModel m(c);
    m.init_weights(3);
    models::MapetBatch b = make_batch(c, 4, 9);
    optim::AdamWConfig oc;
    oc.lr = 3e-3f, oc.weight_decay = 0.0f;
    optim::AdamW opt(m.named_parameters(), oc);
    Generator g(1);
    nn::Context ctx{&g};
    float first = 0, last = 0;
    for (int s = 0; s < 60; ++s) {
      opt.zero_grad();
      models::MapetOutput o = m.forward(b, ctx);
      if (s == 0) first = o.loss.value().item();
      last = o.loss.value().item();
      autograd::backward(o.loss);
      for (const auto& p : m.named_parameters())
        if (p.name != "mask_positional_token" || obj != common::Objective::mim)
          ASSERT_TRUE(p.var.grad().defined()) << "objective " << int(obj) << ": no gradient for " << p.name;
      opt.step();
    }
    EXPECT_LT(last, 0.5f * first) << "objective " << int(obj);
  }
}

// The two-stream forward written out the plain way from the model's own
// parameters: every block computes every row (also the last content stream,
// which the model skips), attention is the dense-mask reference, and the
// residual steps are separate ops (no fused residual, no bias_gelu, no packed
// attention). The model's loss and every gradient must match it.
Var plain_two_stream_loss(const models::MapetModel& m, const models::MapetBatch& b, common::Objective obj) {
  const models::VitConfig& c = m.config;
  const int64_t B = b.images.size(0), P = c.num_patches(), T = P + 1, L = m.mapet_config.least_number, M = T - L;
  const int64_t D = c.embed_dim, H = c.num_heads, V = m.mapet_config.vocab_size;
  const bool mapet = obj == common::Objective::mapet;
  Tensor real_idx = Tensor::empty({B, T}, DType::i64), pred_idx = Tensor::empty({B, M}, DType::i64);
  Tensor targets = Tensor::empty({B * M}, DType::i64);
  for (int64_t i = 0; i < B; ++i) {
    real_idx.data<int64_t>()[i * T] = 0;
    for (int64_t r = 0; r < P; ++r) real_idx.data<int64_t>()[i * T + r + 1] = b.perm.data<int64_t>()[i * P + r] + 1;
    for (int64_t q = 0; q < M; ++q) {
      const int64_t p = b.perm.data<int64_t>()[i * P + L - 1 + q];
      pred_idx.data<int64_t>()[i * M + q] = p + 1;
      targets.data<int64_t>()[i * M + q] = b.tokens.data<int64_t>()[i * P + p];
    }
  }
  Var x = ops::patch_embed(Var(b.images), m.patch_proj->weight, m.patch_proj->bias, c.patch_size);
  x = ops::add(ops::concat({ops::expand_batch(m.cls_token, B), x}, 1), m.pos_embed);
  Var real = ops::gather_tokens(x, real_idx);
  Var masks = ops::add(ops::gather_tokens(ops::expand_batch(m.pos_embed, B), pred_idx), m.mask_token);
  Var seq = mapet ? ops::concat({real, masks, masks}, 1) : ops::concat({real, masks}, 1);
  const int64_t rows = seq.size(1), key_rows = mapet ? T + M : T;
  const Tensor dense = ops::dense_mask(ops::mapet_interval_mask(obj, T, L), key_rows);
  auto heads = [&](const Var& t) { return ops::transpose(ops::reshape(t, {B, t.size(1), H, D / H}), 1, 2); };
  for (size_t i = 0; i < m.blocks->size(); ++i) {
    const auto& blk = static_cast<const nn::Block&>((*m.blocks)[i]);
    Var y = blk.norm1.forward(seq);
    Var q = ops::linear(y, blk.attn.q.weight, blk.attn.q.bias);
    Var kv = ops::linear(ops::slice(y, 1, 0, key_rows), blk.attn.kv.weight, blk.attn.kv.bias);
    Var o = ops::scaled_dot_product_attention(heads(q), heads(ops::slice(kv, 2, 0, D)),
                                              heads(ops::slice(kv, 2, D, 2 * D)), dense);
    o = ops::reshape(ops::contiguous(ops::transpose(o, 1, 2)), {B, rows, D});
    seq = ops::add(seq, ops::mul(ops::linear(o, blk.attn.proj.weight, blk.attn.proj.bias), blk.ls1->gamma));
    Var h = ops::gelu(ops::linear(blk.norm2.forward(seq), blk.mlp.fc1.weight, blk.mlp.fc1.bias));
    seq = ops::add(seq, ops::mul(ops::linear(h, blk.mlp.fc2.weight, blk.mlp.fc2.bias), blk.ls2->gamma));
  }
  Var g = m.norm->forward(ops::slice(seq, 1, rows - M, rows));
  return ops::cross_entropy(ops::reshape(m.decoder->forward(g), {B * M, V}), targets);
}

TEST(Mapet, LossAndGradientsMatchThePlainTwoStreamForward) {
  for (auto obj : {common::Objective::mapet, common::Objective::pet}) {
    SCOPED_TRACE(obj == common::Objective::mapet ? "mapet" : "pet");
    models::MapetConfig c = tiny(obj, 5);
    c.vit.depth = 3;
    models::MapetModel m(c);
    m.init_weights(4);
    m.train(false);  // no drop path: the two forwards draw nothing
    models::MapetBatch b = make_batch(c, 3, 17);
    auto grads = [&]() {
      std::vector<Tensor> out;
      for (const auto& p : m.named_parameters()) {
        out.push_back(p.var.grad().defined() ? p.var.grad().contiguous() : Tensor::zeros(p.var.shape()));
        p.var.zero_grad();
      }
      return out;
    };
    nn::Context ctx;
    Var loss = m.forward(b, ctx).loss;
    autograd::backward(loss);
    const std::vector<Tensor> got = grads();
    Var want_loss = plain_two_stream_loss(m, b, obj);
    autograd::backward(want_loss);
    const std::vector<Tensor> want = grads();
    EXPECT_NEAR(loss.value().item(), want_loss.value().item(), 1e-5);
    const auto params = m.named_parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      double scale = 1e-30;
      for (float v : want[i].to_vector()) scale = std::max(scale, static_cast<double>(std::abs(v)));
      EXPECT_TRUE(test::all_close(got[i], test::to_double(want[i]), 1e-4, 1e-4 * scale)) << params[i].name;
    }
  }
}

TEST(Mapet, BadBatchesAreNamed) {
  models::MapetConfig c = tiny(common::Objective::mapet, 4);
  models::MapetModel m(c);
  models::MapetBatch b = make_batch(c, 2, 1);
  b.perm.data<int64_t>()[3] = b.perm.data<int64_t>()[4];
  nn::Context ctx;
  try {
    m.forward(b, ctx);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("perm"), std::string::npos) << e.what();
  }
  EXPECT_THROW(models::MapetModel(tiny(common::Objective::mapet, 17)), Error);
}

}  // namespace
}  // namespace mapet
