// Training curves a person can open: the same figure as SVG (hand-written,
// sharp at any size) and PNG (a small anti-aliased rasteriser with a built-in
// 5x7 font, written by data/png.h). No plotting library involved.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/image.h"

namespace mapet::apps::train {

struct Series {
  std::vector<double> x, y;
  uint32_t rgb = 0x1f77b4;  // 0xRRGGBB
  double width = 1.5;       // stroke, in pixels
};

struct Panel {
  std::string title, x_label;
  std::vector<Series> series;  // drawn in order (the last on top)
};

// Panels side by side, each panel_w x panel_h pixels.
struct Figure {
  std::vector<Panel> panels;
  int panel_w = 560, panel_h = 360;
};

std::string render_svg(const Figure& f);
data::Image render_image(const Figure& f);
// Writes stem.svg and stem.png, each atomically.
void write_figure(const Figure& f, const std::string& stem);

// One panel per key: the records that have both x_key and key; noisy values
// (smooth) in a light colour under their moving mean. x_offset is added to x
// (1 for metrics.jsonl's 0-based "epoch": epochs counted from 1, as the logs do).
struct Curve {
  std::string key, title;
  bool smooth = true;
};
Figure metrics_figure(const std::vector<nlohmann::json>& records, const std::vector<Curve>& curves,
                      const std::string& x_key = "step", double x_offset = 0);

}  // namespace mapet::apps::train
