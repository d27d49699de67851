#include "apps/train/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

#include "data/png.h"
#include "engine/io/safetensors.h"

namespace mapet::apps::train {

namespace {

// ---- layout shared by both renderers ----------------------------------------

constexpr int kLeft = 84, kRight = 16, kTop = 34, kBottom = 44;  // margins around a panel's plot area
constexpr uint32_t kAxis = 0x404040, kGrid = 0xe4e4e4, kText = 0x202020;

struct Axis {
  double lo = 0, hi = 1;
  std::vector<double> ticks;
};

// About five ticks at 1, 2 or 5 times a power of ten; whole numbers only for
// data that is (steps, epochs: no tick at epoch 0.4).
Axis make_axis(double lo, double hi, bool pad, bool integer = false) {
  if (!(hi > lo)) lo -= 0.5, hi += 0.5;
  if (pad) {
    double m = 0.05 * (hi - lo);
    lo -= m, hi += m;
  }
  Axis a{lo, hi, {}};
  const double raw = (hi - lo) / 5.0, mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
  if (integer) step = std::max(step, 1.0);
  for (double t = std::ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step)
    a.ticks.push_back(std::abs(t) < 1e-12 * step ? 0.0 : t);
  return a;
}

std::string tick_label(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

struct Geometry {
  double x0, y0, x1, y1;  // plot area in figure pixels
  Axis ax, ay;
  double px(double x) const { return x0 + (x - ax.lo) / (ax.hi - ax.lo) * (x1 - x0); }
  double py(double y) const { return y1 - (y - ay.lo) / (ay.hi - ay.lo) * (y1 - y0); }
};

Geometry geometry(const Panel& p, int index, const Figure& f) {
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  bool whole_x = true;
  for (const Series& s : p.series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      whole_x = whole_x && s.x[i] == std::floor(s.x[i]);
      xmin = std::min(xmin, s.x[i]), xmax = std::max(xmax, s.x[i]);
      ymin = std::min(ymin, s.y[i]), ymax = std::max(ymax, s.y[i]);
    }
  if (!std::isfinite(xmin)) xmin = 0, xmax = 1, ymin = 0, ymax = 1;  // nothing to draw yet
  Geometry g;
  g.x0 = index * f.panel_w + kLeft, g.x1 = (index + 1) * f.panel_w - kRight;
  g.y0 = kTop, g.y1 = f.panel_h - kBottom;
  g.ax = make_axis(xmin, xmax, false, whole_x);
  g.ay = make_axis(ymin, ymax, true);
  return g;
}

// At most about two points per pixel column: long runs (100k steps) stay cheap
// to draw and small on disk. Each bin keeps the mean of its points.
Series thin(const Series& s, double columns) {
  const size_t n = s.x.size(), bins = static_cast<size_t>(2 * columns);
  if (n <= bins || bins == 0) return s;
  Series out = s;
  out.x.assign(bins, 0.0), out.y.assign(bins, 0.0);
  std::vector<size_t> count(bins, 0);
  for (size_t i = 0; i < n; ++i) {
    size_t b = i * bins / n;
    out.x[b] += s.x[i], out.y[b] += s.y[i], ++count[b];
  }
  for (size_t b = 0; b < bins; ++b) out.x[b] /= double(count[b]), out.y[b] /= double(count[b]);
  return out;
}

// ---- SVG ---------------------------------------------------------------------

std::string hex(uint32_t rgb) {
  char b[8];
  std::snprintf(b, sizeof b, "#%06x", rgb & 0xffffff);
  return b;
}

std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '&')
      o += "&amp;";
    else if (c == '<')
      o += "&lt;";
    else if (c == '>')
      o += "&gt;";
    else
      o += c;
  }
  return o;
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

// ---- raster ------------------------------------------------------------------

// 5x7 glyphs, drawn for this file: digits, lower-case letters and the signs
// that tick labels and titles use; g j p q y have two more rows below the
// baseline. Upper case is drawn as lower case.
const std::map<char, std::vector<const char*>>& font() {
  static const std::map<char, std::vector<const char*>> f = {
      {'0', {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."}},
      {'1', {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."}},
      {'2', {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"}},
      {'3', {"####.", "....#", "....#", ".###.", "....#", "....#", "####."}},
      {'4', {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."}},
      {'5', {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."}},
      {'6', {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."}},
      {'7', {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."}},
      {'8', {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."}},
      {'9', {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."}},
      {'.', {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."}},
      {'-', {".....", ".....", ".....", ".###.", ".....", ".....", "....."}},
      {'+', {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."}},
      {'%', {"##..#", "##..#", "...#.", "..#..", ".#...", "#..##", "#..##"}},
      {'/', {"....#", "....#", "...#.", "..#..", ".#...", "#....", "#...."}},
      {'(', {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."}},
      {')', {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."}},
      {':', {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."}},
      {',', {".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."}},
      {'_', {".....", ".....", ".....", ".....", ".....", ".....", "#####"}},
      {'a', {".....", ".....", ".###.", "....#", ".####", "#...#", ".####"}},
      {'b', {"#....", "#....", "####.", "#...#", "#...#", "#...#", "####."}},
      {'c', {".....", ".....", ".###.", "#....", "#....", "#...#", ".###."}},
      {'d', {"....#", "....#", ".####", "#...#", "#...#", "#...#", ".####"}},
      {'e', {".....", ".....", ".###.", "#...#", "#####", "#....", ".###."}},
      {'f', {"..##.", ".#..#", ".#...", "###..", ".#...", ".#...", ".#..."}},
      {'g', {".....", ".....", ".####", "#...#", "#...#", "#...#", ".####", "....#", ".###."}},
      {'h', {"#....", "#....", "#.##.", "##..#", "#...#", "#...#", "#...#"}},
      {'i', {"..#..", ".....", ".##..", "..#..", "..#..", "..#..", ".###."}},
      {'j', {"...#.", ".....", "..##.", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."}},
      {'k', {"#....", "#....", "#..#.", "#.#..", "##...", "#.#..", "#..#."}},
      {'l', {".##..", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."}},
      {'m', {".....", ".....", "##.#.", "#.#.#", "#.#.#", "#...#", "#...#"}},
      {'n', {".....", ".....", "#.##.", "##..#", "#...#", "#...#", "#...#"}},
      {'o', {".....", ".....", ".###.", "#...#", "#...#", "#...#", ".###."}},
      {'p', {".....", ".....", "####.", "#...#", "#...#", "#...#", "####.", "#....", "#...."}},
      {'q', {".....", ".....", ".####", "#...#", "#...#", "#...#", ".####", "....#", "....#"}},
      {'r', {".....", ".....", "#.##.", "##..#", "#....", "#....", "#...."}},
      {'s', {".....", ".....", ".####", "#....", ".###.", "....#", "####."}},
      {'t', {".#...", ".#...", "###..", ".#...", ".#...", ".#..#", "..##."}},
      {'u', {".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#"}},
      {'v', {".....", ".....", "#...#", "#...#", "#...#", ".#.#.", "..#.."}},
      {'w', {".....", ".....", "#...#", "#...#", "#.#.#", "#.#.#", ".#.#."}},
      {'x', {".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#"}},
      {'y', {".....", ".....", "#...#", "#...#", "#...#", "#...#", ".####", "....#", ".###."}},
      {'z', {".....", ".....", "#####", "...#.", "..#..", ".#...", "#####"}},
  };
  return f;
}

class Canvas {
 public:
  explicit Canvas(int w, int h) : img(w, h) { std::fill(img.pixels.begin(), img.pixels.end(), 255); }

  void blend(int x, int y, uint32_t rgb, double a) {
    if (x < 0 || y < 0 || x >= img.width || y >= img.height || a <= 0) return;
    uint8_t* p = img.row(y) + x * 3;
    for (int c = 0; c < 3; ++c) {
      double src = (rgb >> (16 - 8 * c)) & 255;
      p[c] = static_cast<uint8_t>(std::lround(p[c] + (src - p[c]) * std::min(1.0, a)));
    }
  }
  void hline(int x0, int x1, int y, uint32_t rgb) {
    for (int x = x0; x <= x1; ++x) blend(x, y, rgb, 1);
  }
  void vline(int x, int y0, int y1, uint32_t rgb) {
    for (int y = y0; y <= y1; ++y) blend(x, y, rgb, 1);
  }

  // An anti-aliased polyline: coverage of each pixel by the stroke (distance
  // from its centre to the nearest segment), kept as a maximum so joints are
  // not painted twice, then blended once. Clipped to the rectangle.
  void polyline(const std::vector<double>& xs, const std::vector<double>& ys, double width, uint32_t rgb, int cx0,
                int cy0, int cx1, int cy1) {
    std::map<int64_t, double> cover;
    const double r = width / 2;
    auto segment = [&](double ax, double ay, double bx, double by) {
      const double dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
      int x0 = std::max(cx0, int(std::floor(std::min(ax, bx) - r - 1))),
          x1 = std::min(cx1, int(std::ceil(std::max(ax, bx) + r + 1)));
      int y0 = std::max(cy0, int(std::floor(std::min(ay, by) - r - 1))),
          y1 = std::min(cy1, int(std::ceil(std::max(ay, by) + r + 1)));
      for (int y = y0; y <= y1; ++y)
        for (int x = x0; x <= x1; ++x) {
          const double qx = x + 0.5 - ax, qy = y + 0.5 - ay;
          const double t = len2 > 0 ? std::clamp((qx * dx + qy * dy) / len2, 0.0, 1.0) : 0.0;
          const double d = std::hypot(qx - t * dx, qy - t * dy);
          const double c = std::clamp(r + 0.5 - d, 0.0, 1.0);
          if (c > 0) {
            double& slot = cover[int64_t(y) * img.width + x];
            slot = std::max(slot, c);
          }
        }
    };
    if (xs.size() == 1) segment(xs[0], ys[0], xs[0], ys[0]);
    for (size_t i = 1; i < xs.size(); ++i) segment(xs[i - 1], ys[i - 1], xs[i], ys[i]);
    for (const auto& [at, c] : cover) blend(int(at % img.width), int(at / img.width), rgb, c);
  }

  // Text with its top-left corner at (x, y); glyphs scaled by `scale`.
  void text(int x, int y, const std::string& s, int scale, uint32_t rgb) {
    for (char ch : s) {
      auto it = font().find(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
      if (it != font().end())
        for (int gy = 0; gy < int(it->second.size()); ++gy)
          for (int gx = 0; gx < 5; ++gx)
            if (it->second[gy][gx] == '#')
              for (int sy = 0; sy < scale; ++sy)
                for (int sx = 0; sx < scale; ++sx) blend(x + gx * scale + sx, y + gy * scale + sy, rgb, 1);
      x += 6 * scale;
    }
  }
  static int text_width(const std::string& s, int scale) { return static_cast<int>(s.size()) * 6 * scale - scale; }

  data::Image img;
};

std::vector<double> moving_mean(const std::vector<double>& v, size_t window) {
  std::vector<double> out(v.size());
  double sum = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    sum += v[i];
    if (i >= window) sum -= v[i - window];
    out[i] = sum / double(std::min(i + 1, window));
  }
  return out;
}

uint32_t lighten(uint32_t rgb, double t) {
  uint32_t out = 0;
  for (int s = 16; s >= 0; s -= 8) {
    double c = (rgb >> s) & 255;
    out |= static_cast<uint32_t>(std::lround(c + (255 - c) * t)) << s;
  }
  return out;
}

}  // namespace

std::string render_svg(const Figure& f) {
  const int W = f.panel_w * std::max<int>(1, int(f.panels.size())), H = f.panel_h;
  std::string s =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(W) + "\" height=\"" + std::to_string(H) +
      "\" viewBox=\"0 0 " + std::to_string(W) + " " + std::to_string(H) +
      "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  for (size_t i = 0; i < f.panels.size(); ++i) {
    const Panel& p = f.panels[i];
    const Geometry g = geometry(p, int(i), f);
    auto line = [&](double x0, double y0, double x1, double y1, uint32_t rgb) {
      s += "<line x1=\"" + num(x0) + "\" y1=\"" + num(y0) + "\" x2=\"" + num(x1) + "\" y2=\"" + num(y1) +
           "\" stroke=\"" + hex(rgb) + "\"/>\n";
    };
    for (double t : g.ay.ticks) {
      line(g.x0, g.py(t), g.x1, g.py(t), kGrid);
      s += "<text x=\"" + num(g.x0 - 6) + "\" y=\"" + num(g.py(t) + 4) + "\" text-anchor=\"end\">" + tick_label(t) +
           "</text>\n";
    }
    for (double t : g.ax.ticks) {
      line(g.px(t), g.y0, g.px(t), g.y1, kGrid);
      s += "<text x=\"" + num(g.px(t)) + "\" y=\"" + num(g.y1 + 16) + "\" text-anchor=\"middle\">" + tick_label(t) +
           "</text>\n";
    }
    s += "<rect x=\"" + num(g.x0) + "\" y=\"" + num(g.y0) + "\" width=\"" + num(g.x1 - g.x0) + "\" height=\"" +
         num(g.y1 - g.y0) + "\" fill=\"none\" stroke=\"" + hex(kAxis) + "\"/>\n";
    s += "<text x=\"" + num((g.x0 + g.x1) / 2) + "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" +
         xml_escape(p.title) + "</text>\n";
    s += "<text x=\"" + num((g.x0 + g.x1) / 2) + "\" y=\"" + num(g.y1 + 34) + "\" text-anchor=\"middle\">" +
         xml_escape(p.x_label) + "</text>\n";
    for (const Series& raw : p.series) {
      const Series sr = thin(raw, g.x1 - g.x0);
      if (sr.x.empty()) continue;
      s += "<polyline fill=\"none\" stroke=\"" + hex(sr.rgb) + "\" stroke-width=\"" + num(sr.width) +
           "\" stroke-linejoin=\"round\" points=\"";
      for (size_t k = 0; k < sr.x.size(); ++k) {
        if (k) s += ' ';
        s += num(g.px(sr.x[k]));
        s += ',';
        s += num(g.py(sr.y[k]));
      }
      s += "\"/>\n";
    }
  }
  return s + "</svg>\n";
}

data::Image render_image(const Figure& f) {
  Canvas c(f.panel_w * std::max<int>(1, int(f.panels.size())), f.panel_h);
  for (size_t i = 0; i < f.panels.size(); ++i) {
    const Panel& p = f.panels[i];
    const Geometry g = geometry(p, int(i), f);
    const int x0 = int(g.x0), x1 = int(g.x1), y0 = int(g.y0), y1 = int(g.y1);
    for (double t : g.ay.ticks) {
      int y = int(std::lround(g.py(t)));
      c.hline(x0, x1, y, kGrid);
      std::string l = tick_label(t);
      c.text(x0 - 6 - Canvas::text_width(l, 2), y - 7, l, 2, kText);
    }
    for (double t : g.ax.ticks) {
      int x = int(std::lround(g.px(t)));
      c.vline(x, y0, y1, kGrid);
      std::string l = tick_label(t);
      c.text(x - Canvas::text_width(l, 2) / 2, y1 + 6, l, 2, kText);
    }
    c.hline(x0, x1, y0, kAxis), c.hline(x0, x1, y1, kAxis), c.vline(x0, y0, y1, kAxis), c.vline(x1, y0, y1, kAxis);
    c.text((x0 + x1 - Canvas::text_width(p.title, 2)) / 2, 10, p.title, 2, kText);
    c.text((x0 + x1 - Canvas::text_width(p.x_label, 2)) / 2, y1 + 26, p.x_label, 2, kText);
    for (const Series& raw : p.series) {
      const Series sr = thin(raw, g.x1 - g.x0);
      std::vector<double> xs(sr.x.size()), ys(sr.y.size());
      for (size_t k = 0; k < xs.size(); ++k) xs[k] = g.px(sr.x[k]), ys[k] = g.py(sr.y[k]);
      c.polyline(xs, ys, sr.width, sr.rgb, x0 + 1, y0 + 1, x1 - 1, y1 - 1);
    }
  }
  return std::move(c.img);
}

void write_figure(const Figure& f, const std::string& stem) {
  io::write_file_atomic(stem + ".svg", render_svg(f));
  data::write_png(stem + ".png", render_image(f));
}

Figure metrics_figure(const std::vector<nlohmann::json>& records, const std::vector<Curve>& curves,
                      const std::string& x_key, double x_offset) {
  static const uint32_t colors[] = {0x1f77b4, 0xd62728, 0x2ca02c, 0x9467bd};
  Figure fig;
  for (size_t i = 0; i < curves.size(); ++i) {
    Series raw;
    for (const nlohmann::json& r : records) {
      auto x = r.find(x_key), y = r.find(curves[i].key);
      if (x == r.end() || y == r.end() || !x->is_number() || !y->is_number()) continue;
      raw.x.push_back(x->get<double>() + x_offset);
      raw.y.push_back(y->get<double>());
    }
    const uint32_t color = colors[i % 4];
    if (!curves[i].smooth) {
      raw.rgb = color;
      fig.panels.push_back(Panel{curves[i].title, x_key, {raw}});
      continue;
    }
    raw.rgb = lighten(color, 0.65), raw.width = 1.0;
    Series mean = raw;
    mean.y = moving_mean(raw.y, std::max<size_t>(1, raw.y.size() / 40));
    mean.rgb = color, mean.width = 2.0;
    fig.panels.push_back(Panel{curves[i].title, x_key, {raw, mean}});
  }
  return fig;
}

}  // namespace mapet::apps::train
