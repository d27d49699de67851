#include "models/tokenizer/centroids.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "engine/rng.h"
#include "models/tokenizer/records.h"

namespace mapet::tokenizer {

Tensor sample_patch_features(const Split& split, const FeatureExtractor& fx, int64_t n, uint64_t seed,
                             const RunOptions& o) {
  const int64_t images = static_cast<int64_t>(split.dataset.size()), P = fx.tokens_per_image(), D = fx.dim();
  const int64_t m = std::min(images, (n + P - 1) / P);
  n = std::min(n, m * P);
  // The first m entries of a seeded Fisher-Yates shuffle, read in dataset order.
  Generator g(seed);
  std::vector<int64_t> order(images);
  for (int64_t i = 0; i < images; ++i) order[i] = i;
  for (int64_t i = 0; i < m; ++i) std::swap(order[i], order[i + static_cast<int64_t>(g.randint(images - i))]);
  order.resize(m);
  std::sort(order.begin(), order.end());
  data::Dataset sub = split.dataset;
  sub.samples.clear();
  for (int64_t i : order) sub.samples.push_back(split.dataset.samples[i]);

  Tensor out = Tensor::empty({n, D});
  float* dst = out.data<float>();
  data::Loader loader(sub, feature_loader_options(fx, o.batch_size, o.workers, o.quiet));
  loader.start_epoch(0);
  data::Batch b;
  int64_t seen = 0, rows = 0;
  if (o.progress) o.progress("sample", 0, m);
  while (loader.next(b)) {
    Tensor f = fx.features(b.images).contiguous();  // [B, P, D]
    for (int64_t i = 0; i < f.size(0) && rows < n; ++i, ++seen) {
      const float* src = f.data<float>() + i * P * D;
      const int64_t take = std::min(P, n - rows);
      std::vector<int64_t> pick(P);
      for (int64_t p = 0; p < P; ++p) pick[p] = p;
      for (int64_t p = 0; p < take && take < P; ++p) std::swap(pick[p], pick[p + static_cast<int64_t>(g.randint(P - p))]);
      for (int64_t p = 0; p < take; ++p) std::memcpy(dst + (rows + p) * D, src + pick[p] * D, D * sizeof(float));
      rows += take;
    }
    if (o.progress) o.progress("sample", seen, m);
  }
  return out;
}

Codebook train_centroids(const Split& split, const FeatureExtractor& fx, const TrainCentroidsOptions& t,
                         const RunOptions& o) {
  const int64_t cap = t.kmeans.k * static_cast<int64_t>(t.kmeans.max_points_per_centroid);
  const int64_t n = t.sample_patches > 0 ? t.sample_patches : cap;
  const nlohmann::json recipe = {
      {"features", fx.describe()},
      {"dataset_hash", hex64(split.dataset.file_list_hash())},
      {"sample_patches", n},
      {"sample_seed", t.seed},
      {"k", t.kmeans.k},
      {"niter", t.kmeans.niter},
      {"nredo", t.kmeans.nredo},
      {"max_points_per_centroid", t.kmeans.max_points_per_centroid},
      {"kmeans_seed", t.kmeans.seed},
  };
  const std::string record_path = t.path + ".json";
  const nlohmann::json old = read_record(record_path);
  if (std::filesystem::exists(t.path) && old.is_object() && old.value("recipe", nlohmann::json()) == recipe) {
    Codebook cb = Codebook::load(t.path);
    if (checksum(cb.centroids()) == old.value("checksum", "")) {
      if (!o.quiet) std::printf("centroids: %s already trained with these settings; reusing them\n", t.path.c_str());
      return cb;
    }
  }
  if (!o.quiet)
    std::printf("k-means sample: %lld patches x %lld dims (%.2f GiB) from %s\n", static_cast<long long>(n),
                static_cast<long long>(fx.dim()), double(n) * fx.dim() * 4 / (1 << 30), split.dataset.source.c_str());
  Tensor sample = sample_patch_features(split, fx, n, t.seed, o);
  KMeansResult r = train_kmeans(sample, t.kmeans, "k-means sample of " + split.dataset.source);
  Codebook cb(r.centroids, "centroids '" + t.path + "'");
  cb.save(t.path);
  double secs = 0;  // the per-iteration times add up to the whole training
  for (double s : r.iteration_seconds) secs += s;
  write_record(record_path, {{"recipe", recipe},
                             {"dataset", split.dataset.source},
                             {"checksum", checksum(cb.centroids())},
                             {"points_used", r.points_used},
                             {"objective", r.objective.empty() ? 0.0f : r.objective.back()},
                             {"seconds", secs}});
  if (!o.quiet)
    std::printf("centroids: %lld x %lld trained on %lld patches in %.1f s (best of %d runs of %d iterations), written to %s\n",
                static_cast<long long>(cb.size()), static_cast<long long>(cb.dim()),
                static_cast<long long>(r.points_used), secs, t.kmeans.nredo, t.kmeans.niter, t.path.c_str());
  return cb;
}

}  // namespace mapet::tokenizer
