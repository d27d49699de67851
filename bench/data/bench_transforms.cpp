// Images per second on ONE core for the data pipeline's per-image work:
// read the file + decode + RandomResizedCrop(224) + flip + normalise (train),
// or + Resize(248) + CenterCrop(224) + normalise (eval), or the MaPeT
// pre-train view (the centred square, no flip) with and without colour
// jitter 0.4 (what `mapet pretrain` uses). The peer, PIL +
// torchvision doing the same on the same files, is bench_pil.py; run.sh runs
// both. Usage: bench_transforms DIR [seconds]
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "data/jpeg.h"
#include "data/transforms.h"

using namespace mapet::data;

// CPU seconds of this (single-threaded) process: images per CPU-second is
// images/s per core, and stays meaningful on a machine shared with others.
static double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static double rate(const std::vector<std::string>& files, Mode mode, const TransformConfig& cfg, double seconds) {
  std::vector<float> out(3 * cfg.size * cfg.size);
  const double start = cpu_seconds();
  int64_t n = 0;
  double elapsed = 0;
  do {
    for (const std::string& f : files) {
      std::vector<uint8_t> bytes = read_file(f);
      transform_jpeg(bytes.data(), bytes.size(), f, cfg, mode, SampleRng(1, 0, n), out.data());
      ++n;
    }
    elapsed = cpu_seconds() - start;
  } while (elapsed < seconds);
  return n / elapsed;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR_OF_JPEGS [seconds]\n", argv[0]);
    return 2;
  }
  double seconds = argc > 2 ? std::atof(argv[2]) : 3.0;
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(argv[1]))
    if (e.path().extension() == ".jpg") files.push_back(e.path().string());
  if (files.empty()) {
    std::fprintf(stderr, "no .jpg files in %s\n", argv[1]);
    return 1;
  }
  TransformConfig cfg;  // size 224, scale (0.08, 1), ratio (3/4, 4/3), bicubic, hflip 0.5, ImageNet mean/std
  rate(files, Mode::train, cfg, 0.3);  // warm up caches and the page cache
  std::printf("mapet train (decode + RandomResizedCrop 224 + flip + normalise): %.0f images/s/core\n",
              rate(files, Mode::train, cfg, seconds));
  std::printf("mapet eval  (decode + Resize 248 + CenterCrop 224 + normalise):  %.0f images/s/core\n",
              rate(files, Mode::eval, cfg, seconds));
  TransformConfig fast = cfg;
  fast.fast_decode = true;
  std::printf("mapet train with --fast-decode (fast IDCT, plain chroma upsampling): %.0f images/s/core\n",
              rate(files, Mode::train, fast, seconds));
  TransformConfig center = cfg;
  center.scale_min = center.scale_max = center.ratio_min = center.ratio_max = 1;
  center.hflip = 0;
  std::printf("mapet MaPeT pre-train view (scale 1 1, ratio 1 1, no flip):      %.0f images/s/core\n",
              rate(files, Mode::train, center, seconds));
  TransformConfig pretrain = center;  // what `mapet pretrain` uses: the view above + --color-jitter 0.4
  pretrain.brightness = pretrain.contrast = pretrain.saturation = 0.4f;
  std::printf("mapet MaPeT pre-train view + ColorJitter(0.4, 0.4, 0.4):          %.0f images/s/core\n",
              rate(files, Mode::train, pretrain, seconds));
  return 0;
}
