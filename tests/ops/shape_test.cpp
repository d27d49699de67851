// Data-movement ops (engine/ops/shape.cpp): forward against index arithmetic
// on row-major float64 arrays, backward by finite differences.
#include "engine/ops/shape.h"

#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

using Ref = std::vector<double>;
using Ins = std::vector<std::vector<double>>;

// y = x.permute(perm) made contiguous, x row-major of `shape`.
Ref permute_ref(const Ref& x, const Shape& shape, const std::vector<int64_t>& perm) {
  Shape xst = contiguous_strides(shape), ys(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) ys[i] = shape[perm[i]];
  Ref y(x.size());
  std::vector<int64_t> idx(perm.size(), 0);
  for (size_t k = 0; k < y.size(); ++k) {
    int64_t off = 0;
    for (size_t i = 0; i < perm.size(); ++i) off += idx[i] * xst[perm[i]];
    y[k] = x[off];
    for (size_t i = perm.size(); i-- > 0;)
      if (++idx[i] < ys[i])
        break;
      else
        idx[i] = 0;
  }
  return y;
}

// The rows of x ([outer, n, inner] view of `shape` around dim) listed in idx, per outer index.
Ref select_rows(const Ref& x, int64_t outer, int64_t n, int64_t inner,
                const std::function<int64_t(int64_t, int64_t)>& src, int64_t n_out) {
  Ref y;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < n_out; ++i)
      for (int64_t j = 0; j < inner; ++j) y.push_back(x[(o * n + src(o, i)) * inner + j]);
  return y;
}

void check(const test::OpFn& op, const test::RefFn& ref, const std::vector<Tensor>& in) {
  test::check_op(op, ref, in, 0.0, 1e-12, 1e-6, 1e-6);  // data movement is exact
}

TEST(Shape, ReshapeOfNonContiguousInput) {
  Tensor x = test::randn({3, 4, 5}, test::fresh_seed());
  check(
      [](const std::vector<Var>& v) {
        return ops::reshape(ops::transpose(v[0], 0, 2), {-1, 6});
      },
      [](const Ins& x) {
        return permute_ref(x[0], {3, 4, 5}, {2, 1, 0});
      },
      {x});
  EXPECT_EQ(ops::reshape(Var(x), {12, -1}).shape(), (Shape{12, 5}));
  EXPECT_THROW(ops::reshape(Var(x), {7, -1}), Error);
}

TEST(Shape, TransposePermuteContiguous) {
  const Shape s{2, 3, 4, 5};
  Tensor x = test::randn(s, test::fresh_seed());
  check([](const std::vector<Var>& v) { return ops::transpose(v[0], 1, -1); },
        [&](const Ins& x) {
          return permute_ref(x[0], s, {0, 3, 2, 1});
        },
        {x});
  check(
      [](const std::vector<Var>& v) {
        return ops::permute(v[0], {2, 0, 3, 1});
      },
      [&](const Ins& x) {
        return permute_ref(x[0], s, {2, 0, 3, 1});
      },
      {x});
  check(
      [](const std::vector<Var>& v) {
        return ops::contiguous(ops::permute(v[0], {3, 1, 2, 0}));
      },
      [&](const Ins& x) {
        return permute_ref(x[0], s, {3, 1, 2, 0});
      },
      {x});
  Var p = ops::contiguous(ops::permute(Var(x), {3, 1, 2, 0}));
  EXPECT_TRUE(p.value().is_contiguous());
  EXPECT_FALSE(ops::transpose(Var(x), 0, 1).value().is_contiguous());
  EXPECT_TRUE(ops::transpose(Var(x), 0, 1).value().shares_storage(x)) << "transpose must be a view";
}

// A slice's gradient added into a gradient its input already owns (the region
// is added in place) and into one it shares with another tensor (copied first):
// both give g_full + g_slice zero-padded, and the other tensor keeps its own.
TEST(Shape, SliceGradientAddsIntoAnExistingGradient) {
  uint64_t s = test::fresh_seed();
  const Tensor x0 = test::randn({3, 7, 5}, s), r_full = test::randn({3, 7, 5}, s + 1),
               r_slice = test::randn({3, 4, 5}, s + 2);
  std::vector<float> want = r_full.to_vector(), rs = r_slice.to_vector();
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t t = 0; t < 4; ++t)
      for (int64_t c = 0; c < 5; ++c) want[(b * 7 + t + 2) * 5 + c] += rs[(b * 4 + t) * 5 + c];
  for (bool shared : {false, true}) {
    SCOPED_TRACE(shared ? "shared gradient" : "owned gradient");
    Var x(x0.clone(), true), other(x0.clone(), true);
    // Recorded first, so its backward runs last, after x already has a gradient.
    Var sl = ops::slice(x, 1, 2, 6);
    // Full use of x: mul gives x an owned gradient; add passes its incoming
    // gradient to x and `other` both (one shared tensor).
    Var full = shared ? ops::add(x, other) : ops::mul(x, Var(Tensor::full({3, 7, 5}, 1.0f)));
    autograd::backward(ops::add(ops::sum(ops::mul(full, Var(r_full))), ops::sum(ops::mul(sl, Var(r_slice)))));
    EXPECT_TRUE(test::all_close(x.grad(), std::vector<double>(want.begin(), want.end()), 1e-6, 1e-6));
    if (shared) EXPECT_EQ(other.grad().to_vector(), r_full.to_vector()) << "the shared gradient was changed";
  }
}

TEST(Shape, SliceAndConcat) {
  uint64_t s = test::fresh_seed();
  check([](const std::vector<Var>& v) { return ops::slice(v[0], 1, 2, 6); },
        [](const Ins& x) {
          return select_rows(
              x[0], 3, 7, 5, [](int64_t, int64_t i) { return i + 2; }, 4);
        },
        {test::randn({3, 7, 5}, s)});
  // Three pieces of 2, 1 and 4 rows along dim 1 of [3, *, 5].
  check(
      [](const std::vector<Var>& v) {
        return ops::concat({v[0], v[1], v[2]}, 1);
      },
      [](const Ins& x) {
        Ref y;
        for (int64_t o = 0; o < 3; ++o)
          for (int64_t part = 0; part < 3; ++part) {
            int64_t rows = part == 0 ? 2 : part == 1 ? 1 : 4;
            y.insert(y.end(), x[part].begin() + o * rows * 5, x[part].begin() + (o + 1) * rows * 5);
          }
        return y;
      },
      {test::randn({3, 2, 5}, s + 1), test::randn({3, 1, 5}, s + 2), test::randn({3, 4, 5}, s + 3)});
  EXPECT_THROW(ops::concat({Var(Tensor::zeros({3, 2})), Var(Tensor::zeros({4, 2}))}, 1), Error);
  EXPECT_THROW(ops::slice(Var(Tensor::zeros({3, 2})), 0, 2, 4), Error);
}

TEST(Shape, IndexSelectWithRepeatedIndices) {
  const std::vector<int64_t> idx{4, 0, 4, 2, 4, 6};
  check([&](const std::vector<Var>& v) { return ops::index_select(v[0], 1, Tensor::from_vector(idx, {6})); },
        [&](const Ins& x) {
          return select_rows(
              x[0], 3, 7, 2, [&](int64_t, int64_t i) { return idx[i]; }, 6);
        },
        {test::randn({3, 7, 2}, test::fresh_seed())});
  EXPECT_THROW(ops::index_select(Var(Tensor::zeros({3, 7})), 1, Tensor::from_vector(std::vector<int64_t>{7}, {1})),
               Error);
}

TEST(Shape, GatherTokensWithRepeatedIndices) {
  const std::vector<int64_t> idx{1, 1, 0, 4, 3, 3, 3, 0};  // [2, 4]
  check(
      [&](const std::vector<Var>& v) {
        return ops::gather_tokens(v[0], Tensor::from_vector(idx, {2, 4}));
      },
      [&](const Ins& x) {
        return select_rows(
            x[0], 2, 5, 3, [&](int64_t b, int64_t i) { return idx[b * 4 + i]; }, 4);
      },
      {test::randn({2, 5, 3}, test::fresh_seed())});
  EXPECT_THROW(
      ops::gather_tokens(Var(Tensor::zeros({2, 5, 3})), Tensor::from_vector(std::vector<int64_t>{0, 5}, {2, 1})),
      Error);
}

TEST(Shape, ExpandBatch) {
  check([](const std::vector<Var>& v) { return ops::expand_batch(v[0], 67); },
        [](const Ins& x) {
          Ref y;
          for (int i = 0; i < 67; ++i) y.insert(y.end(), x[0].begin(), x[0].end());
          return y;
        },
        {test::randn({1, 2, 3}, test::fresh_seed())});
  EXPECT_THROW(ops::expand_batch(Var(Tensor::zeros({2, 3})), 4), Error);
}

}  // namespace
}  // namespace mapet
