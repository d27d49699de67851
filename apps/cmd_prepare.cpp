// mapet prepare fashion-mnist [--out DIR]: turns Debian's dataset-fashion-mnist
// (gzipped IDX files) into an ImageFolder tree of JPEG files,
//   DIR/train/<class>/<n>.jpg (60000) and DIR/val/<class>/<n>.jpg (10000),
// so the same loader, transforms and CLI flags work on it as on ImageNet.
// Each split is written to DIR/<split>.tmp and renamed when complete: an
// interrupted run never leaves a half-filled split that looks finished.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "apps/commands.h"
#include "data/fashion_mnist.h"
#include "data/jpeg.h"
#include "engine/tensor.h"

namespace mapet::apps {

namespace {

namespace fs = std::filesystem;

struct PrepareArgs {
  std::string dataset, out = "data_cache/fashion-mnist", source = data::kFashionMnistDir;  // the demo's folder, which git ignores
  int quality = 95;
  bool force = false;
};

int64_t count_files(const fs::path& dir) {
  int64_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) ++n;
  return n;
}

void write_split(const PrepareArgs& a, const std::string& split, const std::string& name) {
  const fs::path final_dir = fs::path(a.out) / name, tmp = fs::path(a.out) / (name + ".tmp");
  data::FashionMnist d = data::load_fashion_mnist(split, a.source);
  if (fs::exists(final_dir) && !a.force) {
    if (count_files(final_dir) == d.count) {
      std::printf("%s: already there (%lld images); --force rewrites it\n", final_dir.c_str(), static_cast<long long>(d.count));
      return;
    }
    throw Error("'" + final_dir.string() + "' exists but does not hold the " + std::to_string(d.count) +
                " images of the split; remove it or pass --force");
  }
  fs::remove_all(tmp);
  for (const char* cls : data::kFashionMnistClasses) fs::create_directories(tmp / cls);
  data::JpegEncodeOptions opt;
  opt.quality = a.quality;
  const size_t pixels = static_cast<size_t>(d.rows * d.cols);
  char name_buf[32];
  // On a terminal the count is redrawn in place; in a log each count is a line of its own.
  const bool tty = isatty(fileno(stderr));
  for (int64_t i = 0; i < d.count; ++i) {
    std::vector<uint8_t> jpg = data::encode_jpeg(d.images.data() + i * pixels, static_cast<int>(d.cols),
                                                 static_cast<int>(d.rows), data::JpegColor::gray, opt);
    std::snprintf(name_buf, sizeof name_buf, "%05lld.jpg", static_cast<long long>(i));
    fs::path p = tmp / data::kFashionMnistClasses[d.labels[i]] / name_buf;
    std::ofstream f(p, std::ios::binary);
    f.write(reinterpret_cast<const char*>(jpg.data()), static_cast<std::streamsize>(jpg.size()));
    if (!f) throw Error("cannot write '" + p.string() + "'");
    if ((i + 1) % 10000 == 0 || i + 1 == d.count)
      std::fprintf(stderr, "%s%s: %lld / %lld%s", tty ? "\r" : "", name.c_str(), static_cast<long long>(i + 1),
                   static_cast<long long>(d.count), tty ? "" : "\n");
  }
  if (tty) std::fprintf(stderr, "\n");
  fs::remove_all(final_dir);
  fs::rename(tmp, final_dir);
  std::printf("%s: %lld JPEG images in %zu class folders\n", final_dir.c_str(), static_cast<long long>(d.count),
              std::size(data::kFashionMnistClasses));
  std::fflush(stdout);  // before the next split's progress (on stderr) in a log
}

void run(const PrepareArgs& a) {
  if (a.dataset != "fashion-mnist") throw Error("prepare: unknown dataset '" + a.dataset + "' (known: fashion-mnist)");
  fs::create_directories(a.out);
  write_split(a, "train", "train");
  write_split(a, "val", "val");
}

}  // namespace

void register_prepare(CLI::App& app) {
  auto a = std::make_shared<PrepareArgs>();
  CLI::App* c = app.add_subcommand("prepare", "Convert a packaged dataset into an ImageFolder tree of JPEG files");
  c->add_option("dataset", a->dataset, "Dataset to prepare: fashion-mnist (Debian's dataset-fashion-mnist)")->required();
  c->add_option("--out", a->out, "Output folder (gets train/ and val/)")->capture_default_str();
  c->add_option("--source", a->source, "Folder with the gzipped IDX files")->capture_default_str();
  c->add_option("--quality", a->quality, "JPEG quality")->check(CLI::Range(1, 100))->capture_default_str();
  c->add_flag("--force", a->force, "Rewrite splits that already exist");
  c->callback([a] { run(*a); });
}

}  // namespace mapet::apps
