// Assigning every image of a split to tokens, written as a token store
// (data/token_store.h) at OUT/<split>.tokens, resumably:
//
//   OUT/<split>.tokens.parts/   manifest.json (what is being made) and
//                               chunk_<c>.npy, one per finished chunk of
//                               images, each written atomically;
//   OUT/<split>.tokens          assembled from the chunks when all are done
//                               (TokenStoreWriter: temp file, fsync, rename);
//   OUT/<split>.tokens.json     how it was made (features, centroids
//                               checksum, dataset hash) and its codebook usage.
//
// A killed run loses at most the chunk in progress: the next run keeps the
// finished chunks when its manifest matches, and skips a split whose store and
// record already match. The store never exists half-written.
#pragma once
#include <string>

#include "models/tokenizer/codebook.h"
#include "models/tokenizer/features.h"
#include "models/tokenizer/run_options.h"
#include "models/tokenizer/splits.h"

namespace mapet::tokenizer {

struct SplitResult {
  std::string name, store;
  int64_t images = 0;
  int64_t unreadable = 0;   // images the loader could not read: their rows hold token 0
  bool reused = false;      // the store was already there, made the same way
  int64_t resumed_chunks = 0;
  CodebookUsage usage;
};

SplitResult tokenize_split(const Split& split, const FeatureExtractor& fx, const Codebook& codebook,
                           const RunOptions& o);

// Codebook usage over every row of a token store.
CodebookUsage store_usage(const std::string& store_path);

}  // namespace mapet::tokenizer
