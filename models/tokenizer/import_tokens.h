// Tokens computed elsewhere (DALL-E's dVAE, BEiT v2's VQ-KD, ...) into a token
// store: an integer .npy [N, P] or [N, h, w] (P = h * w patches in row-major
// order), N = the split's images in its order, every id below the vocabulary.
#pragma once
#include <string>

#include "models/tokenizer/codebook.h"
#include "models/tokenizer/run_options.h"
#include "models/tokenizer/splits.h"

namespace mapet::tokenizer {

struct ImportResult {
  std::string name, store;
  int64_t images = 0, tokens_per_image = 0;
  CodebookUsage usage;
};

// Writes OUT/<split>.tokens (atomically) and its record. tokens_per_image > 0
// is checked against the array (the model's patch grid); vocab bounds the ids.
// Errors name the .npy file.
ImportResult import_tokens(const Split& split, const std::string& npy_path, int64_t vocab, int64_t tokens_per_image,
                           const RunOptions& o);

}  // namespace mapet::tokenizer
