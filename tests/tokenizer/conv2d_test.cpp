// Convolution (oneDNN) against the direct float64 reference on awkward
// geometries; average pooling and the residual join against plain loops.
#include "engine/ops/conv2d.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/cpu/conv2d.h"
#include "tests/test_util.h"

namespace mapet::ops {
namespace {

struct Case {
  int64_t n, h, w, c_in, c_out, k, stride, pad;
  bool bias, relu;
};

TEST(Conv2d, MatchesDirectReferenceOnAwkwardGeometries) {
  const Case cases[] = {
      {1, 7, 9, 3, 5, 3, 2, 1, true, true},      // CLIP's stem conv1 shape, odd sizes
      {2, 5, 6, 17, 33, 3, 1, 1, false, true},   // 3x3 'same'
      {3, 4, 4, 13, 7, 1, 1, 0, true, false},    // 1x1 projection
      {1, 11, 10, 4, 6, 7, 2, 3, true, false},   // a large kernel
      {2, 3, 5, 64, 16, 3, 1, 0, false, false},  // no padding: output 1 x 3
      {1, 1, 1, 9, 130, 1, 1, 0, true, true},
  };
  uint64_t seed = 100;
  for (const Case& c : cases) {
    Tensor x = test::randn({c.n, c.h, c.w, c.c_in}, seed++);
    Tensor w = test::randn({c.c_out, c.c_in, c.k, c.k}, seed++, 0.3f);
    Tensor b = c.bias ? test::randn({c.c_out}, seed++) : Tensor();
    Conv2d conv(w, b, c.stride, c.pad, c.relu, "layer");
    Tensor y = conv.forward(x);
    cpu::ConvGeometry g{c.c_in, c.c_out, c.k, c.k, c.stride, c.pad};
    ASSERT_EQ(y.shape(), (Shape{c.n, g.out_h(c.h), g.out_w(c.w), c.c_out}));
    std::vector<float> want(y.numel());
    cpu::conv2d_nhwc_reference(g, c.n, c.h, c.w, x.data<float>(), w.data<float>(), c.bias ? b.data<float>() : nullptr,
                               c.relu, want.data());
    EXPECT_TRUE(test::all_close(y, std::vector<double>(want.begin(), want.end()), 1e-4, 1e-4))
        << "c_in " << c.c_in << " c_out " << c.c_out << " k " << c.k << " stride " << c.stride;
    if (c.relu) {
      for (float v : y.to_vector()) ASSERT_GE(v, 0.0f);
    }
  }
}

TEST(Conv2d, OneLayerServesSeveralInputSizes) {
  Tensor w = test::randn({8, 4, 3, 3}, 7), b = test::randn({8}, 8);
  Conv2d conv(w, b, 2, 1, false, "visual.conv1");
  for (int64_t s : {8, 5, 8, 12}) {
    Tensor x = test::randn({2, s, s, 4}, 9 + s);
    Tensor y = conv.forward(x);
    cpu::ConvGeometry g{4, 8, 3, 3, 2, 1};
    std::vector<float> want(y.numel());
    cpu::conv2d_nhwc_reference(g, 2, s, s, x.data<float>(), w.data<float>(), b.data<float>(), false, want.data());
    EXPECT_TRUE(test::all_close(y, std::vector<double>(want.begin(), want.end()), 1e-4, 1e-4)) << "size " << s;
  }
}

TEST(Conv2d, ErrorsNameTheLayer) {
  Conv2d conv(test::randn({8, 4, 3, 3}, 1), Tensor(), 1, 0, false, "visual.layer2.0.conv2");
  try {
    conv.forward(test::randn({1, 5, 5, 3}, 2));
    FAIL() << "no error for 3 input channels";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("visual.layer2.0.conv2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(conv.forward(test::randn({1, 2, 2, 4}, 3)), Error);  // smaller than the kernel
  EXPECT_THROW(Conv2d(test::randn({8, 4, 3}, 1), Tensor(), 1, 0, false, "w"), Error);
  EXPECT_THROW(Conv2d(test::randn({8, 4, 3, 3}, 1), test::randn({7}, 1), 1, 0, false, "w"), Error);
}

TEST(AvgPool, MatchesWindowMeansAndDropsPartialWindows) {
  const int64_t n = 2, h = 7, w = 5, c = 19, k = 2;
  Tensor x = test::randn({n, h, w, c}, 5);
  Tensor y = avg_pool2d_nhwc(x, k);
  ASSERT_EQ(y.shape(), (Shape{n, 3, 2, c}));
  std::vector<double> want;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oy = 0; oy < 3; ++oy)
      for (int64_t ox = 0; ox < 2; ++ox)
        for (int64_t i = 0; i < c; ++i) {
          double s = 0;
          for (int64_t dy = 0; dy < k; ++dy)
            for (int64_t dx = 0; dx < k; ++dx) s += x.at({b, oy * k + dy, ox * k + dx, i});
          want.push_back(s / (k * k));
        }
  EXPECT_TRUE(test::all_close(y, want, 1e-6, 1e-6));
  EXPECT_EQ(avg_pool2d_nhwc(x, 1).to_vector(), x.to_vector());
}

TEST(AddRelu, JoinsTheResidual) {
  Tensor y = test::randn({3, 4, 5, 6}, 1), r = test::randn({3, 4, 5, 6}, 2);
  std::vector<float> a = y.to_vector(), b = r.to_vector();
  add_relu_(y, r);
  std::vector<double> want;
  for (size_t i = 0; i < a.size(); ++i) want.push_back(std::max(0.0, double(a[i]) + b[i]));
  EXPECT_TRUE(test::all_close(y, want, 1e-7, 1e-7));
  Tensor bad = test::randn({3, 4, 5, 5}, 3);
  EXPECT_THROW(add_relu_(y, bad), Error);
}

TEST(NchwToNhwc, MovesChannelsLast) {
  Tensor x = test::randn({2, 3, 4, 5}, 1);
  Tensor y = nchw_to_nhwc(x);
  EXPECT_EQ(y.shape(), (Shape{2, 4, 5, 3}));
  EXPECT_EQ(y.at({1, 2, 3, 0}), x.at({1, 0, 2, 3}));
  EXPECT_EQ(y.at({0, 3, 1, 2}), x.at({0, 2, 3, 1}));
}

}  // namespace
}  // namespace mapet::ops
