#include "kernels/cpu/conv2d.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <tuple>
#include <vector>

namespace mapet::cpu {

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

dnnl::engine& cpu_engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

}  // namespace

struct Conv2dNhwc::Impl {
  ConvGeometry g;
  bool relu = false;
  std::vector<float> weight, bias;  // as given (oihw), bias zero-filled when absent

  // Per input size (n, h, w): the primitive, and the weights in its layout.
  struct Entry {
    dnnl::convolution_forward prim;
    dnnl::memory weights;
  };
  mutable std::mutex mu;
  mutable std::map<std::tuple<int64_t, int64_t, int64_t>, std::shared_ptr<Entry>> cache;
  // Reordered weights shared between entries that want the same layout.
  mutable std::vector<std::pair<dnnl::memory::desc, dnnl::memory>> reordered;

  std::shared_ptr<Entry> entry(int64_t n, int64_t h, int64_t w) const {
    std::lock_guard<std::mutex> lock(mu);
    auto key = std::make_tuple(n, h, w);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;

    const dnnl::memory::dims src{n, g.c_in, h, w}, dst{n, g.c_out, g.out_h(h), g.out_w(w)};
    dnnl::memory::desc src_md(src, dt::f32, tag::nhwc), dst_md(dst, dt::f32, tag::nhwc);
    dnnl::memory::desc wei_any({g.c_out, g.c_in, g.kh, g.kw}, dt::f32, tag::any), bia_md({g.c_out}, dt::f32, tag::a);
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_md,
                                      wei_any, bia_md, dst_md, {g.stride, g.stride}, {g.pad, g.pad}, {g.pad, g.pad});
    dnnl::primitive_attr attr;
    if (relu) {
      dnnl::post_ops po;
      po.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
      attr.set_post_ops(po);
    }
    dnnl::convolution_forward::primitive_desc pd(d, attr, cpu_engine());

    auto e = std::make_shared<Entry>();
    e->prim = dnnl::convolution_forward(pd);
    for (const auto& [md, mem] : reordered)
      if (md == pd.weights_desc()) e->weights = mem;
    if (!e->weights) {
      dnnl::memory user({{g.c_out, g.c_in, g.kh, g.kw}, dt::f32, tag::oihw}, cpu_engine(),
                        const_cast<float*>(weight.data()));
      dnnl::memory mine(pd.weights_desc(), cpu_engine());
      dnnl::stream s(cpu_engine());
      dnnl::reorder(user, mine).execute(s, user, mine);
      s.wait();
      reordered.emplace_back(pd.weights_desc(), mine);
      e->weights = mine;
    }
    cache.emplace(key, e);
    return e;
  }
};

Conv2dNhwc::Conv2dNhwc(const ConvGeometry& g, const float* weight, const float* bias, bool relu)
    : impl_(std::make_unique<Impl>()) {
  impl_->g = g;
  impl_->relu = relu;
  impl_->weight.assign(weight, weight + g.c_out * g.c_in * g.kh * g.kw);
  impl_->bias.assign(g.c_out, 0.0f);
  if (bias) std::copy(bias, bias + g.c_out, impl_->bias.begin());
}

Conv2dNhwc::~Conv2dNhwc() = default;

const ConvGeometry& Conv2dNhwc::geometry() const { return impl_->g; }

void Conv2dNhwc::forward(int64_t n, int64_t h, int64_t w, const float* x, float* y) const {
  const ConvGeometry& g = impl_->g;
  std::shared_ptr<Impl::Entry> e = impl_->entry(n, h, w);
  dnnl::memory src({{n, g.c_in, h, w}, dt::f32, tag::nhwc}, cpu_engine(), const_cast<float*>(x));
  dnnl::memory dst({{n, g.c_out, g.out_h(h), g.out_w(w)}, dt::f32, tag::nhwc}, cpu_engine(), y);
  dnnl::memory bia({{g.c_out}, dt::f32, tag::a}, cpu_engine(), impl_->bias.data());
  dnnl::stream s(cpu_engine());
  e->prim.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, e->weights}, {DNNL_ARG_BIAS, bia}, {DNNL_ARG_DST, dst}});
  s.wait();
}

void conv2d_nhwc_reference(const ConvGeometry& g, int64_t n, int64_t h, int64_t w, const float* x,
                           const float* weight, const float* bias, bool relu, float* y) {
  const int64_t oh = g.out_h(h), ow = g.out_w(w);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox)
        for (int64_t o = 0; o < g.c_out; ++o) {
          double s = bias ? bias[o] : 0.0;
          for (int64_t ky = 0; ky < g.kh; ++ky)
            for (int64_t kx = 0; kx < g.kw; ++kx) {
              const int64_t iy = oy * g.stride - g.pad + ky, ix = ox * g.stride - g.pad + kx;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;  // zero padding
              const float* px = x + ((b * h + iy) * w + ix) * g.c_in;
              for (int64_t i = 0; i < g.c_in; ++i)
                s += static_cast<double>(px[i]) * weight[((o * g.c_in + i) * g.kh + ky) * g.kw + kx];
            }
          if (relu) s = std::max(s, 0.0);
          y[((b * oh + oy) * ow + ox) * g.c_out + o] = static_cast<float>(s);
        }
}

void avg_pool_nhwc(int64_t n, int64_t h, int64_t w, int64_t c, int64_t k, const float* x, float* y) {
  const int64_t oh = h / k, ow = w / k;
  const float inv = 1.0f / static_cast<float>(k * k);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        float* out = y + ((b * oh + oy) * ow + ox) * c;
        std::fill(out, out + c, 0.0f);
        for (int64_t ky = 0; ky < k; ++ky)
          for (int64_t kx = 0; kx < k; ++kx) {
            const float* in = x + ((b * h + oy * k + ky) * w + ox * k + kx) * c;
#pragma omp simd
            for (int64_t i = 0; i < c; ++i) out[i] += in[i];
          }
#pragma omp simd
        for (int64_t i = 0; i < c; ++i) out[i] *= inv;
      }
}

void add_relu(float* y, const float* r, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = std::max(y[i] + r[i], 0.0f);
}

}  // namespace mapet::cpu
