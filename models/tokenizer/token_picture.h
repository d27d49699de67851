// A picture of what a tokenizer does, for `mapet show-tokens`: each image
// beside its token map, every patch of the map filled with the colour of its
// token id. One fixed colour per id (hues spread by the golden ratio), so
// patches that share a token look alike and neighbouring ids differ.
#pragma once
#include <array>
#include <vector>

#include "data/image.h"
#include "engine/tensor.h"

namespace mapet::tokenizer {

std::array<uint8_t, 3> token_colour(uint32_t id);

struct TokenPictureRow {
  data::Image view;               // the image as tokenized (square, size = grid * cell)
  std::vector<uint16_t> tokens;   // grid * grid ids, row-major
};

// Rows of [image | token map], a grey gutter around everything and thin dark
// lines between the map's patches.
data::Image token_picture(const std::vector<TokenPictureRow>& rows, int64_t grid);

// A normalised f32 [3, S, S] image back to 8-bit RGB.
data::Image to_image(const Tensor& chw, const std::array<float, 3>& mean, const std::array<float, 3>& std);

}  // namespace mapet::tokenizer
