// Training checkpoints (apps/train/checkpoint.cpp): a safetensors file whose tensors and metadata
// must fit a model and its optimizer, under a checksum.
#include "apps/train/checkpoint.h"
#include "apps/train/trainer.h"
#include "models/vit.h"
#include "tests/fuzz/fuzz_util.h"

using namespace mapet;

namespace {

models::VitConfig tiny() {  // the model tests/fuzz/make_seeds.cpp saves
  models::VitConfig c;
  c.img_size = 8, c.patch_size = 4, c.embed_dim = 8, c.depth = 1, c.num_heads = 2, c.num_classes = 3;
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static models::VisionTransformer model(tiny());
  static apps::train::Trainer trainer(model, apps::train::TrainerConfig{});
  const std::string path = fuzz::as_file(data, size, ".ckpt.safetensors");
  fuzz::expect_error_or_success([&] { apps::train::load_checkpoint(path, model, trainer.optimizer()); });
  fuzz::expect_error_or_success([&] { apps::train::checkpoint_step(path); });
  return 0;
}
