// The codebook of a tokenize run: trained with k-means on patch features
// sampled from the training split, or read from a .npy file.
//
// Sampling: images drawn at random (seeded) from the split; all their patches
// are taken, the last image's cut at random to reach the count exactly.
// Whole images keep the feature computation (a CLIP forward per image) at
// count / P images.
#pragma once
#include <string>

#include "models/tokenizer/codebook.h"
#include "models/tokenizer/features.h"
#include "models/tokenizer/kmeans.h"
#include "models/tokenizer/run_options.h"
#include "models/tokenizer/splits.h"

namespace mapet::tokenizer {

// f32 [n, D]: the features of n patches of the split (fewer when the split has
// fewer patches than n).
Tensor sample_patch_features(const Split& split, const FeatureExtractor& fx, int64_t n, uint64_t seed,
                             const RunOptions& o);

struct TrainCentroidsOptions {
  std::string path;            // where the centroids go (.npy), with a record at path + ".json"
  int64_t sample_patches = 0;  // 0: k * max_points_per_centroid, what Faiss keeps at most
  uint64_t seed = 0;           // patch sampling (k-means has its own seed in kmeans)
  KMeansOptions kmeans;
};

// Trains the centroids and writes them, unless `path` already holds centroids
// made with the same settings from the same split and features (then they are
// read: a resumed run does not train again).
Codebook train_centroids(const Split& split, const FeatureExtractor& fx, const TrainCentroidsOptions& t,
                         const RunOptions& o);

}  // namespace mapet::tokenizer
