#include "models/tokenizer/token_picture.h"

#include <algorithm>
#include <cmath>

namespace mapet::tokenizer {

std::array<uint8_t, 3> token_colour(uint32_t id) {
  // Hue by the golden-ratio sequence; saturation and value cycle too, so
  // thousands of ids stay distinguishable from their neighbours.
  const double h = std::fmod(id * 0.6180339887498949, 1.0) * 6.0;
  const double s = 0.55 + 0.45 * ((id / 7) % 3) / 2.0, v = 0.65 + 0.35 * ((id / 3) % 2);
  const int sector = static_cast<int>(h);
  const double f = h - sector, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  double r = v, g = t, b = p;
  switch (sector % 6) {
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    case 5: r = v, g = p, b = q; break;
    default: break;
  }
  auto u8 = [](double x) { return static_cast<uint8_t>(std::lround(std::clamp(x, 0.0, 1.0) * 255)); };
  return {u8(r), u8(g), u8(b)};
}

data::Image to_image(const Tensor& chw, const std::array<float, 3>& mean, const std::array<float, 3>& std) {
  Tensor x = chw.contiguous();
  const int s = static_cast<int>(x.size(1));
  data::Image img(static_cast<int>(x.size(2)), s);
  const float* p = x.data<float>();
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < img.height; ++y)
      for (int xx = 0; xx < img.width; ++xx) {
        float v = (p[(static_cast<size_t>(c) * img.height + y) * img.width + xx] * std[c] + mean[c]) * 255.0f;
        img.row(y)[xx * 3 + c] = static_cast<uint8_t>(std::clamp(v + 0.5f, 0.0f, 255.0f));
      }
  return img;
}

data::Image token_picture(const std::vector<TokenPictureRow>& rows, int64_t grid) {
  const int gap = 8, size = rows.empty() ? 0 : rows[0].view.width;
  data::Image out(2 * size + 3 * gap, static_cast<int>(rows.size()) * (size + gap) + gap);
  std::fill(out.pixels.begin(), out.pixels.end(), 160);
  for (size_t r = 0; r < rows.size(); ++r) {
    const data::Image& v = rows[r].view;
    const int oy = gap + static_cast<int>(r) * (size + gap);
    for (int y = 0; y < size; ++y) std::copy(v.row(y), v.row(y) + size * 3, out.row(oy + y) + gap * 3);
    const int ox = 2 * gap + size;
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        const int64_t py = y * grid / size, px = x * grid / size;
        const bool edge = (y * grid) % size < grid || (x * grid) % size < grid;  // first pixel row/column of a patch
        std::array<uint8_t, 3> c = token_colour(rows[r].tokens[py * grid + px]);
        uint8_t* d = out.row(oy + y) + (ox + x) * 3;
        for (int k = 0; k < 3; ++k) d[k] = edge ? static_cast<uint8_t>(c[k] / 2) : c[k];
      }
  }
  return out;
}

}  // namespace mapet::tokenizer
