// Writes the seed corpus of every fuzz target (tests/fuzz/CMakeLists.txt runs it at build time):
// small valid files of each format, made by this project's own writers, plus the committed
// PyTorch fixtures and configs. Usage: make_seeds OUT_DIR SOURCE_DIR
#include <filesystem>
#include <fstream>

#include "apps/train/checkpoint.h"
#include "apps/train/trainer.h"
#include "data/jpeg.h"
#include "data/token_store.h"
#include "engine/io/npy.h"
#include "engine/io/safetensors.h"
#include "models/vit.h"
#include "tests/engine/torch_bytes.h"

using namespace mapet;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& file, const std::string& bytes) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << bytes;
}

std::string str(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

Tensor ramp(const Shape& s, DType t = DType::f32) {
  Tensor f = Tensor::empty(s);
  for (int64_t i = 0; i < f.numel(); ++i) f.data<float>()[i] = float(i % 7);
  return f.to(t);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const fs::path out = argv[1], src = argv[2];
  for (const char* d : {"jpeg", "safetensors", "npy", "torch", "yaml", "csv", "token_store", "checkpoint"})
    fs::create_directories(out / d);

  // jpeg: baseline, progressive, subsampled, grey, CMYK.
  std::vector<uint8_t> rgb(24 * 16 * 3), k(24 * 16 * 4);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = uint8_t(i * 7);
  for (size_t i = 0; i < k.size(); ++i) k[i] = uint8_t(i * 5);
  data::JpegEncodeOptions progressive, subsampled;
  progressive.progressive = true, subsampled.subsample = true;
  write(out / "jpeg/rgb.jpg", str(data::encode_jpeg(rgb.data(), 24, 16, data::JpegColor::rgb)));
  write(out / "jpeg/progressive.jpg", str(data::encode_jpeg(rgb.data(), 24, 16, data::JpegColor::rgb, progressive)));
  write(out / "jpeg/420.jpg", str(data::encode_jpeg(rgb.data(), 24, 16, data::JpegColor::rgb, subsampled)));
  write(out / "jpeg/gray.jpg", str(data::encode_jpeg(rgb.data(), 24, 16, data::JpegColor::gray)));
  write(out / "jpeg/cmyk.jpg", str(data::encode_jpeg(k.data(), 24, 16, data::JpegColor::cmyk)));

  // safetensors: every dtype, an empty tensor, metadata.
  const fs::path st = out / "safetensors/a.safetensors";
  io::save_safetensors(st.string(),
                       {{"f32", ramp({3, 2})}, {"bf16", ramp({4}, DType::bf16)}, {"i64", ramp({2}, DType::i64)},
                        {"u8", ramp({2, 2}, DType::u8)}, {"empty", Tensor::empty({0, 3})}},
                       {{"format", "pt"}});

  // npy: the types the writer knows.
  write(out / "npy/f32.npy", io::npy_bytes(ramp({2, 3})));
  write(out / "npy/i64.npy", io::npy_bytes(ramp({4, 2}, DType::i64)));
  write(out / "npy/u8.npy", io::npy_bytes(ramp({5}, DType::u8)));

  // torch: the committed fixtures (written by PyTorch) and a bare pickle of a state dict (fuzz_torch wraps it).
  for (const auto& e : fs::directory_iterator(src / "tests/fixtures/torch"))
    if (e.path().extension() == ".pth") fs::copy_file(e.path(), out / "torch" / e.path().filename(), fs::copy_options::overwrite_existing);
  test::Pickle p;
  p.op('}').op('(').str("w").tensor("0", 16, 0, {4, 4}, {4, 1}).str("t").tensor("0", 16, 2, {2, 3}, {1, 4}).op('u');
  write(out / "torch/state_dict.pkl", p.done());

  // yaml: the shipped configs.
  for (const auto& e : fs::directory_iterator(src / "configs"))
    if (e.path().extension() == ".yaml") fs::copy_file(e.path(), out / "yaml" / e.path().filename(), fs::copy_options::overwrite_existing);

  // csv
  write(out / "csv/list.csv", "path,label\nimgs/a.jpg,3\n\nimgs/b, with comma.jpg , 0\nc.jpg,999999\n");

  // token store
  {
    data::TokenStoreWriter w((out / "token_store/a.tokens").string(), data::TokenStoreHeader{3, 4, 16, 42});
    const uint16_t row[4] = {0, 5, 15, 1};
    for (uint64_t i = 0; i < 3; ++i) w.set(i, row);
    w.finish();
  }

  // checkpoint: the model fuzz_checkpoint loads into, after one step.
  models::VitConfig c;
  c.img_size = 8, c.patch_size = 4, c.embed_dim = 8, c.depth = 1, c.num_heads = 2, c.num_classes = 3;
  models::VisionTransformer model(c);
  model.init_weights(1);
  apps::train::Trainer trainer(model, apps::train::TrainerConfig{});
  apps::train::TrainState s;
  s.steps_per_epoch = 4, s.accum_steps = 1;
  apps::train::save_checkpoint((out / "checkpoint/last.safetensors").string(), model, trainer.optimizer(), s, "lr: 0.001\n");
  return 0;
}
