// `tokenize --device`: the feature extractors on Device::cuda give the CPU's
// features (pixels: the same bits; a CLIP ResNet: f32 rounding), back on the
// CPU for k-means and the assignment; a CLIP ViT refuses the device by name.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/io/safetensors.h"
#include "models/clip_resnet.h"
#include "models/clip_vit.h"
#include "models/tokenizer/features.h"
#include "tests/device/equivalence.h"

namespace mapet {
namespace {

namespace fs = std::filesystem;

TEST(DeviceTokenizer, PixelFeaturesAreTheCpusBitForBit) {
  const auto cpu = tokenizer::pixel_features(32, 8);
  const auto gpu = tokenizer::pixel_features(32, 8, data::kImagenetMean, data::kImagenetStd, Device::cuda);
  const Tensor images = test::random_tensor({3, 3, 32, 32}, 4);
  const Tensor want = cpu->features(images), got = gpu->features(images);
  EXPECT_EQ(got.device(), Device::cpu);
  EXPECT_EQ(got.shape(), want.shape());
  EXPECT_EQ(got.to_vector(), want.to_vector());
}

TEST(DeviceTokenizer, ClipResNetFeaturesEqualTheCpusAndAViTIsRefused) {
  const fs::path dir = fs::temp_directory_path() / ("mapet_device_tokenizer_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  models::ClipResNetConfig c;
  c.layers = {1, 1, 1, 1};
  c.width = 8;
  io::save_safetensors((dir / "rn.safetensors").string(), models::random_clip_resnet_weights(c, 2));
  const auto cpu = tokenizer::clip_features((dir / "rn.safetensors").string(), 2);
  const auto gpu = tokenizer::clip_features((dir / "rn.safetensors").string(), 2, Device::cuda);
  const Tensor images = test::random_tensor({2, 3, 64, 64}, 6);
  const Tensor want = cpu->features(images), got = gpu->features(images);
  EXPECT_EQ(got.device(), Device::cpu);
  ASSERT_EQ(got.shape(), want.shape());
  EXPECT_TRUE(test::close(got.to_vector(), want.to_vector(), 1e-4, "CLIP ResNet tokenizer features"));

  models::ClipVitConfig v = models::clip_vit_config("ViT-B/16");
  v.width = 32, v.layers = 1, v.heads = 2, v.image_resolution = 32, v.output_dim = 16;
  io::save_safetensors((dir / "vit.safetensors").string(), models::random_clip_vit_weights(v, 3));
  try {
    tokenizer::clip_features((dir / "vit.safetensors").string(), 2, Device::cuda);
    ADD_FAILURE() << "a CLIP ViT was accepted on the device";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("runs on the CPU only"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mapet
