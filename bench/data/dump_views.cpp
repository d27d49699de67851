// Writes what the pipeline makes of each JPEG in DIR, for compare_pil.py to
// check against PIL + torchvision: OUT/<name>.<mode>.f32 (3 x 224 x 224
// normalised floats) for eval, the center view and two train crops, and
// OUT/<name>.train<k>.txt with each crop's box and flip.
// Usage: dump_views DIR OUT
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "data/jpeg.h"
#include "data/transforms.h"

using namespace mapet::data;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s DIR_OF_JPEGS OUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string out_dir = argv[2];
  TransformConfig cfg;
  cfg.dct_scaling = false;  // torchvision never decodes at a reduced scale
  std::vector<float> out(3 * cfg.size * cfg.size);
  uint64_t i = 0;
  for (const auto& e : std::filesystem::directory_iterator(argv[1])) {
    if (e.path().extension() != ".jpg") continue;
    const std::string stem = out_dir + "/" + e.path().stem().string();
    std::vector<uint8_t> bytes = read_file(e.path().string());
    auto save = [&](const std::string& mode) {
      FILE* f = std::fopen((stem + "." + mode + ".f32").c_str(), "wb");
      std::fwrite(out.data(), sizeof(float), out.size(), f);
      std::fclose(f);
    };
    transform_jpeg(bytes.data(), bytes.size(), e.path().string(), cfg, Mode::eval, SampleRng(0, 0, i), out.data());
    save("eval");
    transform_jpeg(bytes.data(), bytes.size(), e.path().string(), cfg, Mode::center, SampleRng(0, 0, i), out.data());
    save("center");
    for (int epoch = 0; epoch < 2; ++epoch) {  // two crops: some flipped, some not
      const std::string mode = "train" + std::to_string(epoch);
      View v = transform_jpeg(bytes.data(), bytes.size(), e.path().string(), cfg, Mode::train, SampleRng(7, epoch, i),
                              out.data());
      save(mode);
      FILE* f = std::fopen((stem + "." + mode + ".txt").c_str(), "w");
      std::fprintf(f, "%g %g %g %g %d\n", v.box.x0, v.box.y0, v.box.x1, v.box.y1, int(v.flip));
      std::fclose(f);
    }
    ++i;
  }
  return 0;
}
