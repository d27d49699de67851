// Generator (engine/rng.h): distribution statistics, reproducibility from
// (seed, offset), and draws that do not depend on the thread count.
#include "engine/rng.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "engine/threads.h"

namespace mapet {
namespace {

struct Moments {
  double mean = 0, var = 0, lo = INFINITY, hi = -INFINITY;
};

Moments moments(const Tensor& t) {
  Moments m;
  std::vector<float> v = t.to_vector();
  for (float x : v) m.mean += x, m.lo = std::min<double>(m.lo, x), m.hi = std::max<double>(m.hi, x);
  m.mean /= v.size();
  for (float x : v) m.var += (x - m.mean) * (x - m.mean);
  m.var /= v.size();
  return m;
}

constexpr int64_t kN = 200003;

TEST(Generator, UniformStatistics) {
  Generator g(7);
  Tensor t = Tensor::empty({kN});
  g.uniform_(t, -2.0f, 3.0f);
  Moments m = moments(t);
  // mean 0.5, variance 25/12; standard errors 0.0032 and 0.005.
  EXPECT_NEAR(m.mean, 0.5, 0.02);
  EXPECT_NEAR(m.var, 25.0 / 12.0, 0.03);
  EXPECT_GE(m.lo, -2.0);
  EXPECT_LT(m.hi, 3.0);
}

TEST(Generator, NormalAndTruncatedNormalStatistics) {
  Generator g(11);
  Tensor t = Tensor::empty({kN});
  g.normal_(t, 1.5f, 2.0f);
  Moments m = moments(t);
  EXPECT_NEAR(m.mean, 1.5, 0.02);
  EXPECT_NEAR(m.var, 4.0, 0.05);
  int64_t within = 0;
  for (float x : t.to_vector()) within += std::abs(x - 1.5f) < 2.0f;
  EXPECT_NEAR(static_cast<double>(within) / kN, 0.682689, 0.005);

  g.trunc_normal_(t, 0.02f);
  m = moments(t);
  EXPECT_GE(m.lo, -0.04);
  EXPECT_LE(m.hi, 0.04);
  EXPECT_NEAR(m.mean, 0.0, 0.0005);
  EXPECT_NEAR(std::sqrt(m.var), 0.02 * 0.879626, 0.0005);  // std of N(0,1) truncated to [-2, 2]
}

TEST(Generator, ReproducibleFromSeedAndOffset) {
  Generator a(5), b(5), c(6);
  Tensor x = Tensor::empty({13}), y = Tensor::empty({13}), z = Tensor::empty({13});
  a.normal_(x);
  b.normal_(y);
  c.normal_(z);
  EXPECT_EQ(x.to_vector(), y.to_vector());
  EXPECT_NE(x.to_vector(), z.to_vector());
  uint64_t offset = a.offset();
  a.uniform_(x);
  EXPECT_NE(x.to_vector(), y.to_vector());
  Generator d(5, offset);
  d.uniform_(y);
  EXPECT_EQ(x.to_vector(), y.to_vector()) << "a generator is its seed and offset";
  for (int i = 0; i < 1000; ++i) ASSERT_LT(a.randint(7), 7u);
}

TEST(Generator, DrawsIdenticalForOneAndTwoThreads) {
  const int before = omp_get_max_threads();
  std::vector<float> draws[2];
  for (int t : {1, 2}) {
    set_num_threads(t);
    ASSERT_EQ(num_threads(), t);
    Generator g(99);
    Tensor a = Tensor::empty({100003}), b = Tensor::empty({1001}), c = Tensor::empty({77});
    g.uniform_(a);
    g.normal_(b);
    g.trunc_normal_(c, 1.0f);
    draws[t - 1] = a.to_vector();
    for (const Tensor* x : {&b, &c})
      for (float v : x->to_vector()) draws[t - 1].push_back(v);
  }
  set_num_threads(before);
  EXPECT_EQ(draws[0], draws[1]);
}

}  // namespace
}  // namespace mapet
