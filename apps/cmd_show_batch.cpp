// mapet show-batch --data DIR [--train|--val] [transform flags] --out grid.png
// Loads the first batch exactly as training (or validation) would and writes
// it as an image grid a person can look at (normalisation undone), or with
// --out batch.safetensors the tensors themselves. Prints each sample's label,
// file and crop box, and how many bad files were skipped to fill the batch.
// A folder with split sub-folders (train/, val/, ...) is read as the other
// commands read it (data/splits.h): --train its training split, --val its
// validation split.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "apps/commands.h"
#include "data/loader.h"
#include "data/png.h"
#include "data/splits.h"
#include "data/transform_flags.h"
#include "engine/io/safetensors.h"

namespace mapet::apps {

namespace {

struct ShowBatchArgs {
  std::string data, root, out, tokens;
  bool train = false, val = false, strict = false;
  int batch_size = 16, workers = 0;
  uint64_t seed = 0;
  int64_t epoch = 0;
  data::TransformFlags tf;
};

// The batch as a grid of tiles, normalisation undone, 2-pixel grey gutters.
data::Image grid_of(const Tensor& images, const data::Rgb& mean, const data::Rgb& std) {
  const int n = static_cast<int>(images.size(0)), s = static_cast<int>(images.size(2)), gap = 2;
  const int cols = static_cast<int>(std::ceil(std::sqrt(double(n)))), rows = (n + cols - 1) / cols;
  data::Image g(cols * (s + gap) + gap, rows * (s + gap) + gap);
  std::fill(g.pixels.begin(), g.pixels.end(), 128);
  const float* x = images.data<float>();
  for (int i = 0; i < n; ++i) {
    int ox = gap + (i % cols) * (s + gap), oy = gap + (i / cols) * (s + gap);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < s; ++y)
        for (int xx = 0; xx < s; ++xx) {
          float v = (x[((size_t(i) * 3 + c) * s + y) * s + xx] * std[c] + mean[c]) * 255.0f;
          g.row(oy + y)[(ox + xx) * 3 + c] = static_cast<uint8_t>(std::clamp(v + 0.5f, 0.0f, 255.0f));
        }
  }
  return g;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void run(const ShowBatchArgs& a) {
  if (!ends_with(a.out, ".png") && !ends_with(a.out, ".safetensors"))
    throw Error("--out '" + a.out + "' must end in .png (an image grid) or .safetensors (the tensors)");
  std::string spec = a.data;
  if (std::filesystem::is_directory(a.data)) {
    spec = data::split_folder(a.data, a.val ? "validation" : "train");
    if (spec != a.data) std::printf("using split folder '%s'\n", spec.c_str());
  }
  data::Dataset ds = data::load_dataset(spec, a.root);
  data::LoaderOptions o;
  o.batch_size = a.batch_size;
  o.mode = a.val ? data::Mode::eval : data::Mode::train;
  o.transform = a.tf.config();
  o.seed = a.seed;
  o.shuffle = !a.val;
  o.drop_last = false;
  o.workers = a.workers;
  o.strict = a.strict;
  std::unique_ptr<data::TokenStore> store;
  if (!a.tokens.empty()) {
    store = std::make_unique<data::TokenStore>(a.tokens);
    o.tokens = store.get();
  }
  data::Loader loader(ds, o);
  loader.start_epoch(a.epoch);
  data::Batch b;
  if (!loader.next(b)) throw Error("dataset '" + spec + "' gave no batch");
  std::printf("%s transform: %s\n", a.val ? "eval" : "train", o.transform.str(o.mode).c_str());
  for (size_t i = 0; i < b.indices.size(); ++i) {
    const data::Sample& s = ds.samples[b.indices[i]];
    const data::View& v = b.views[i];
    std::string cls = s.label < int64_t(ds.classes.size()) ? ds.classes[s.label] : std::to_string(s.label);
    std::printf("%2zu  label %lld (%s)  %s  box [%.1f, %.1f, %.1f, %.1f] of %dx%d%s\n", i, static_cast<long long>(s.label),
                cls.c_str(), s.path.c_str(), v.box.x0, v.box.y0, v.box.x1, v.box.y1, v.src_w, v.src_h, v.flip ? " flipped" : "");
  }
  // Bad files are reported one by one on stderr as they are met; this is their count.
  std::printf("%zu images from '%s' (%zu in the dataset); skipped %lld bad file(s)\n", b.indices.size(), spec.c_str(),
              ds.size(), static_cast<long long>(b.skipped));
  if (ends_with(a.out, ".png")) {
    data::write_png(a.out, grid_of(b.images, o.transform.mean, o.transform.std));
  } else {
    const int64_t n = b.images.size(0);
    Tensor boxes = Tensor::empty({n, 4}, DType::f32), flips = Tensor::empty({n}, DType::i64),
           idx = Tensor::empty({n}, DType::i64);
    for (int64_t i = 0; i < n; ++i) {
      const data::View& v = b.views[i];
      float* bx = boxes.data<float>() + i * 4;
      bx[0] = float(v.box.x0), bx[1] = float(v.box.y0), bx[2] = float(v.box.x1), bx[3] = float(v.box.y1);
      flips.data<int64_t>()[i] = v.flip;
      idx.data<int64_t>()[i] = b.indices[i];
    }
    io::TensorMap t{{"images", b.images}, {"labels", b.labels}, {"seeds", b.seeds},
                    {"indices", idx},     {"boxes", boxes},     {"flips", flips}};
    if (b.tokens.defined()) t["tokens"] = b.tokens;
    io::save_safetensors(a.out, t, {{"transform", o.transform.str()}, {"data", spec}});
  }
  std::printf("wrote %s\n", a.out.c_str());
}

}  // namespace

void register_show_batch(CLI::App& app) {
  auto a = std::make_shared<ShowBatchArgs>();
  CLI::App* c = app.add_subcommand("show-batch", "Write the first batch of a dataset as an image grid (or tensors)");
  c->add_option("--data", a->data, "ImageFolder folder, or a CSV of path,label")->required();
  c->add_option("--root", a->root, "Folder the CSV's paths are relative to (default: the CSV's folder)");
  c->add_option("--out", a->out, "grid.png, or batch.safetensors")->required();
  auto* tr = c->add_flag("--train", a->train, "Training transform (default)");
  c->add_flag("--val", a->val, "Evaluation transform")->excludes(tr);
  c->add_option("-b,--batch-size", a->batch_size)->capture_default_str();
  c->add_option("--seed", a->seed)->capture_default_str();
  c->add_option("--epoch", a->epoch, "Epoch whose first batch to show")->capture_default_str();
  c->add_option("-j,--workers", a->workers, "Decode threads (0: one per core)")->capture_default_str();
  c->add_option("--tokens", a->tokens, "Token store to attach (checked against the dataset)");
  c->add_flag("--strict", a->strict, "Stop at the first bad image instead of skipping it");
  a->tf.add_to(c);
  c->callback([a] { run(*a); });
}

}  // namespace mapet::apps
