// cuda::patchify / unpatchify against ops::patchify / unpatchify (engine/ops/patch_embed.cpp): bit for bit.
#include "kernels/cuda/patch_embed.cuh"

#include "engine/ops/patch_embed.h"
#include "tests/kernels/twin.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

struct Im {
  int64_t B, C, H, W, p;
};

// ViT's p = 16 (float4) on a non-square image, an odd patch (3: scalar), and
// a strip wider than a block.
class PatchifyTwin : public ::testing::TestWithParam<Im> {};

TEST_P(PatchifyTwin, MatchesOps) {
  const auto [B, C, H, W, p] = GetParam();
  Tensor images = test::randn({B, C, H, W}, test::fresh_seed());
  Tensor cols = ops::patchify(images, p);
  Tensor grads = test::randn(cols.shape(), test::fresh_seed());
  Tensor back = ops::unpatchify(grads, images.shape(), p);

  test::twin::Case c;
  const float *d_img = c.input(images.to_vector()), *d_grads = c.input(grads.to_vector());
  float *d_cols = c.output<float>(cols.numel()), *d_back = c.output<float>(back.numel());
  c.run([&] {
    cuda::patchify(d_img, d_cols, B, C, H, W, p);
    cuda::unpatchify(d_grads, d_back, B, C, H, W, p);
  });
  EXPECT_TRUE(test::twin::close(c.read(d_cols), cols.to_vector(), {}, "patchify"));
  EXPECT_TRUE(test::twin::close(c.read(d_back), back.to_vector(), {}, "unpatchify"));
}

INSTANTIATE_TEST_SUITE_P(Shapes, PatchifyTwin,
                         ::testing::Values(Im{2, 3, 32, 48, 16}, Im{1, 2, 9, 6, 3}, Im{1, 1, 8, 200, 4}),
                         [](const auto& info) {
                           const Im& m = info.param;
                           return std::to_string(m.B) + "x" + std::to_string(m.C) + "x" + std::to_string(m.H) + "x" +
                                  std::to_string(m.W) + "_p" + std::to_string(m.p);
                         });

}  // namespace
}  // namespace mapet
