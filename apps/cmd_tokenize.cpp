// mapet tokenize DATA --tokenizer pixel|kclip --out DIR [--weights CLIP.safetensors]
//     [--num-tokens K] [--centroids C.npy] [--train-centroids [--sample-patches N]]
//     [--import [SPLIT=]TOKENS.npy ...] [--input-size S --patch-size p]
//
// The visual tokens MaPeT pre-training predicts, one per patch of the center
// view (data/README.md). DATA is a folder with train/ and val/ (as `mapet
// prepare` writes) or one dataset; each split gets DIR/<split>.tokens.
//   1. centroids: trained with Faiss k-means on patch features sampled from the
//      training split (--train-centroids; the paper's k = 8192, 20 iterations,
//      5 redos, <= 512 points per centroid), or read from --centroids;
//   2. every image of every split -> the nearest centroid of each patch
//      feature, written resumably (a killed run continues from its last
//      finished chunk; a finished split is not redone);
//   3. the codebook usage of each split (tokens used, perplexity).
// --import builds stores from tokens computed elsewhere instead.
//
// Tokenizers: pixel (default): the normalised pixels of each patch, no weights;
// defaults --input-size 224 --patch-size 16 (D = 768); for the Fashion-MNIST
// demo use e.g. --input-size 28 --patch-size 4 (49 tokens of 48 values).
// kclip: CLIP image features (the paper's RN50x64 at 448 = 14 x 32 px; a CLIP
// ViT-B/16 at 224 also gives 14 x 14), weights from tools/convert_clip.py.
#include <cstdio>
#include <filesystem>
#include <map>

#include "apps/commands.h"
#include "apps/progress.h"
#include "apps/train/device.h"
#include "models/tokenizer/centroids.h"
#include "models/tokenizer/import_tokens.h"
#include "models/tokenizer/tokenize_split.h"

namespace mapet::apps {

namespace {

namespace fs = std::filesystem;

struct TokenizeArgs {
  std::string data, root, tokenizer = "pixel", weights, out, centroids, norm = "imagenet";
  std::vector<std::string> imports;
  int64_t num_tokens = 8192, sample_patches = 0, input_size = 224, patch_size = 16, chunk_images = 4096;
  bool train_centroids = false, num_tokens_given = false, verbose = false;
  int batch_size = 32, workers = 0, kmeans_iters = 20, kmeans_redo = 5, max_points_per_centroid = 512;
  int kmeans_seed = 1234;
  uint64_t seed = 0;
  train::DeviceFlag device;
};

// Prints images/s and the ETA of one stage, timed from its first report (so
// images resumed from an earlier run do not inflate the rate).
class StageProgress {
 public:
  explicit StageProgress(int every) : every_(every) {}
  void operator()(const std::string& stage, int64_t done, int64_t total) {
    if (stage != stage_) {
      if (bar_) bar_->finish();
      stage_ = stage, start_ = done;
      bar_ = std::make_unique<Progress>(stage, total - start_, every_);
    }
    bar_->update(done - start_, done - start_, start_ > 0 ? "after " + std::to_string(start_) + " resumed" : "images");
  }
  void finish() {
    if (bar_) bar_->finish();
    bar_.reset(), stage_.clear();
  }

 private:
  int every_;
  std::string stage_;
  int64_t start_ = 0;
  std::unique_ptr<Progress> bar_;
};

void print_usage(const std::string& name, const std::string& store, int64_t images, const tokenizer::CodebookUsage& u,
                 const std::string& note) {
  std::printf("%s: %lld images -> %s%s\n  codebook: %s\n", name.c_str(), static_cast<long long>(images), store.c_str(),
              note.c_str(), u.str().c_str());
}

void run_import(const TokenizeArgs& a, const std::vector<tokenizer::Split>& splits, const tokenizer::RunOptions& o) {
  std::map<std::string, std::string> by_split;
  for (const std::string& spec : a.imports) {
    size_t eq = spec.find('=');
    std::string split = eq == std::string::npos ? "" : spec.substr(0, eq), path = spec.substr(eq == std::string::npos ? 0 : eq + 1);
    if (split.empty()) {
      if (splits.size() != 1)
        throw Error("--import '" + spec + "': DATA has " + std::to_string(splits.size()) +
                    " splits; name each one, e.g. --import train=train_tokens.npy --import val=val_tokens.npy");
      split = splits[0].name;
    }
    by_split[split] = path;
  }
  const int64_t grid = a.input_size / a.patch_size;
  for (const auto& [name, path] : by_split) {
    const tokenizer::Split* s = nullptr;
    for (const tokenizer::Split& sp : splits)
      if (sp.name == name) s = &sp;
    if (!s) throw Error("--import " + name + "=" + path + ": DATA '" + a.data + "' has no split '" + name + "'");
    tokenizer::ImportResult r = tokenizer::import_tokens(*s, path, a.num_tokens, grid * grid, o);
    print_usage(name, r.store, r.images, r.usage, " (imported from " + path + ")");
  }
}

void run(const TokenizeArgs& a) {
  // Feature extraction runs on the device; k-means and the nearest-centroid assignment stay on the CPU.
  const train::DeviceChoice dev = a.device.resolve();
  std::vector<tokenizer::Split> splits = tokenizer::find_splits(a.data, a.root);
  fs::create_directories(a.out);
  StageProgress progress(std::max(1, a.batch_size) * 20);
  tokenizer::RunOptions o;
  o.out = a.out;
  o.batch_size = a.batch_size;
  o.workers = a.workers;
  o.chunk_images = a.chunk_images;
  o.progress = [&](const std::string& s, int64_t done, int64_t total) { progress(s, done, total); };
  if (a.patch_size < 1 || a.input_size % a.patch_size != 0)
    throw Error("--input-size " + std::to_string(a.input_size) + " must be a multiple of --patch-size " +
                std::to_string(a.patch_size));
  if (!a.imports.empty()) return run_import(a, splits, o);

  std::unique_ptr<tokenizer::FeatureExtractor> fx;
  if (a.tokenizer == "pixel") {
    if (!a.weights.empty()) throw Error("--weights is for --tokenizer kclip; the pixel tokenizer needs none");
    const bool clip = a.norm == "clip";
    fx = tokenizer::pixel_features(a.input_size, a.patch_size, clip ? data::kClipMean : data::kImagenetMean,
                                   clip ? data::kClipStd : data::kImagenetStd, dev.device);
  } else {
    fx = tokenizer::clip_features(a.weights, a.input_size / a.patch_size, dev.device);
  }
  std::printf("features: %s -> %lld x %lld per image%s\n", fx->describe().c_str(),
              static_cast<long long>(fx->tokens_per_image()), static_cast<long long>(fx->dim()),
              dev.on_cpu() ? "" : (", extracted on " + dev.name).c_str());

  const std::string centroids = a.centroids.empty() ? (fs::path(a.out) / "centroids.npy").string() : a.centroids;
  std::unique_ptr<tokenizer::Codebook> cb;
  if (a.train_centroids) {
    tokenizer::TrainCentroidsOptions t;
    t.path = centroids;
    t.sample_patches = a.sample_patches;
    t.seed = a.seed;
    t.kmeans.k = a.num_tokens;
    t.kmeans.niter = a.kmeans_iters;
    t.kmeans.nredo = a.kmeans_redo;
    t.kmeans.max_points_per_centroid = a.max_points_per_centroid;
    t.kmeans.seed = a.kmeans_seed;
    t.kmeans.verbose = a.verbose;  // Faiss prints ~20 lines per k-means run
    if (!a.verbose)
      std::printf("k-means: %lld centroids, best of %d runs of %d iterations, on sampled patches (--verbose shows "
                  "Faiss's progress)\n", static_cast<long long>(a.num_tokens), a.kmeans_redo, a.kmeans_iters);
    cb = std::make_unique<tokenizer::Codebook>(
        tokenizer::train_centroids(tokenizer::training_split(splits), *fx, t, o));
    progress.finish();
  } else {
    if (!fs::exists(centroids))
      throw Error("no centroids at '" + centroids + "': pass --centroids C.npy, or --train-centroids to make them");
    cb = std::make_unique<tokenizer::Codebook>(tokenizer::Codebook::load(centroids));
  }
  if (cb->dim() != fx->dim())
    throw Error("centroids '" + centroids + "' are " + std::to_string(cb->dim()) + "-dim but the " + a.tokenizer +
                " features are " + std::to_string(fx->dim()) + "-dim (" + fx->describe() + ")");
  if (a.num_tokens_given && a.num_tokens != cb->size())
    std::printf("note: --num-tokens %lld ignored: centroids '%s' hold %lld tokens\n", static_cast<long long>(a.num_tokens),
                centroids.c_str(), static_cast<long long>(cb->size()));

  for (const tokenizer::Split& s : splits) {
    tokenizer::SplitResult r = tokenizer::tokenize_split(s, *fx, *cb, o);
    progress.finish();
    std::string note = r.reused ? " (already done with these centroids)" : "";
    if (r.resumed_chunks > 0) note = " (resumed after " + std::to_string(r.resumed_chunks) + " finished chunks)";
    if (r.unreadable > 0) note += "; " + std::to_string(r.unreadable) + " unreadable images keep token 0";
    print_usage(s.name, r.store, r.images, r.usage, note);
  }
}

}  // namespace

void register_tokenize(CLI::App& app) {
  auto a = std::make_shared<TokenizeArgs>();
  CLI::App* c = app.add_subcommand("tokenize", "Compute the visual tokens of a dataset (pixel or k-CLIP k-means, or import)");
  c->add_option("data", a->data, "Folder with train/ and val/, or one dataset (ImageFolder or CSV)")->required();
  c->add_option("--root", a->root, "Folder a CSV's paths are relative to (default: the CSV's folder)");
  c->add_option("--out", a->out, "Output folder: <split>.tokens, centroids.npy")->required();
  c->add_option("--tokenizer", a->tokenizer, "pixel (normalised patch pixels) or kclip (CLIP image features)")
      ->check(CLI::IsMember({"pixel", "kclip"}))->capture_default_str();
  c->add_option("--weights", a->weights, "kclip: CLIP weights (.safetensors, OpenAI names; tools/convert_clip.py)");
  c->add_option("--num-tokens", a->num_tokens, "Vocabulary: k of k-means, or the bound of imported ids")->capture_default_str();
  c->add_option("--centroids", a->centroids, "Centroids .npy to use (or to write with --train-centroids; default OUT/centroids.npy)");
  c->add_flag("--train-centroids", a->train_centroids, "Train the centroids with k-means on sampled patch features");
  c->add_option("--sample-patches", a->sample_patches,
                "Patches sampled for k-means (default 0: num-tokens x max-points-per-centroid)")->capture_default_str();
  c->add_option("--import", a->imports, "[SPLIT=]TOKENS.npy: integer ids [N, P] or [N, h, w] computed elsewhere");
  c->add_option("--input-size", a->input_size, "Pre-training view size (pixel: the tokenized image size)")->capture_default_str();
  c->add_option("--patch-size", a->patch_size, "Pre-training patch size: tokens = (input-size / patch-size)^2")->capture_default_str();
  c->add_option("--norm", a->norm, "pixel: normalisation, imagenet or clip")->check(CLI::IsMember({"imagenet", "clip"}))
      ->capture_default_str();
  c->add_option("--kmeans-iters", a->kmeans_iters, "k-means iterations")->capture_default_str();
  c->add_option("--kmeans-redo", a->kmeans_redo, "k-means runs (the best objective is kept)")->capture_default_str();
  c->add_option("--max-points-per-centroid", a->max_points_per_centroid, "Faiss subsamples beyond k x this")->capture_default_str();
  c->add_option("--kmeans-seed", a->kmeans_seed, "Faiss k-means seed")->capture_default_str();
  c->add_option("--seed", a->seed, "Patch sampling seed")->capture_default_str();
  c->add_option("-b,--batch-size", a->batch_size, "Images per feature batch")->capture_default_str();
  c->add_option("-j,--workers", a->workers, "Decode threads (0: one per core)")->capture_default_str();
  c->add_option("--chunk-images", a->chunk_images, "Images per resumable chunk")->capture_default_str();
  c->add_flag("-v,--verbose", a->verbose, "Show Faiss's k-means progress (every iteration of every run)");
  a->device.add_to(c);
  c->callback([a, c] {
    a->num_tokens_given = c->count("--num-tokens") > 0;
    run(*a);
  });
}

}  // namespace mapet::apps
