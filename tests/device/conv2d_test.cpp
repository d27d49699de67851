// The CLIP ResNet encoder (the k-CLIP tokenizer's features) on Device::cuda
// against the CPU: convolutions (oneDNN there, im2col + the own GEMM here),
// average pools, residual joins and the NCHW -> NHWC copy.
#include <gtest/gtest.h>

#include "engine/ops/conv2d.h"
#include "models/clip_resnet.h"
#include "tests/device/equivalence.h"

namespace mapet {
namespace {

TEST(DeviceConv2d, ClipResNetFeaturesEqualTheCpus) {
  models::ClipResNetConfig c;
  c.layers = {1, 2, 1, 1};
  c.width = 8;
  const io::TensorMap m = models::random_clip_resnet_weights(c, 3);
  const models::ClipResNet cpu_net(c, models::ClipWeights(m, "w"));
  const models::ClipResNet gpu_net(c, models::ClipWeights(m, "w"), Device::cuda);
  const Tensor images = test::random_tensor({2, 3, 64, 32}, 5);
  const Tensor want = cpu_net.features(images), got = gpu_net.features(images.to(Device::cuda));
  EXPECT_EQ(got.device(), Device::cuda);
  ASSERT_EQ(got.shape(), want.shape());
  // 17 convolutions deep: each sums up to 3*3*32 f32 products in another order
  // than oneDNN's, and the errors compound through the blocks.
  EXPECT_TRUE(test::close(got.to_vector(), want.to_vector(), 1e-4, "CLIP ResNet features"));
}

TEST(DeviceConv2d, InputOnTheOtherDeviceIsNamed) {
  const Tensor w = test::random_tensor({4, 3, 3, 3}, 1), b = test::random_tensor({4}, 2);
  const ops::Conv2d conv(w, b, 1, 1, true, "visual.conv1", Device::cuda);
  try {
    conv.forward(test::random_tensor({1, 5, 5, 3}, 3));
    FAIL() << "a CPU input to a cuda convolution ran";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("visual.conv1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mapet
