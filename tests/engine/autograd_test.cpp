// The tape (engine/autograd.h): accumulation across backward calls, no-grad
// mode, a Var used twice, copy-on-write of shared gradients, and gradients
// through intermediate results that only the tape refers to.
#include "engine/autograd.h"

#include <gtest/gtest.h>

#include "engine/ops/gelu.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"

namespace mapet {
namespace {

std::vector<float> grad_of(const Var& v) { return v.grad().to_vector(); }

TEST(Autograd, GradientsAccumulateAcrossBackwardCalls) {
  Var x(Tensor::from_vector(std::vector<float>{1.0f, -2.0f, 3.0f}, {3}), true);
  autograd::backward(ops::sum(ops::scale(x, 2.0f)));
  EXPECT_EQ(grad_of(x), (std::vector<float>{2, 2, 2}));
  autograd::backward(ops::sum(ops::mul(x, x)));  // + 2x
  EXPECT_EQ(grad_of(x), (std::vector<float>{4, -2, 8}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
  EXPECT_EQ(autograd::tape_size(), 0u);
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Var x(Tensor::full({4}, 1.0f), true);
  {
    autograd::NoGradGuard guard;
    EXPECT_FALSE(autograd::grad_enabled());
    Var y = ops::gelu(ops::add(x, x));
    Var z = ops::concat({y, x}, 0);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_FALSE(z.requires_grad());
    EXPECT_EQ(autograd::tape_size(), 0u);
    EXPECT_THROW(autograd::backward(ops::sum(y)), Error);
  }
  EXPECT_TRUE(autograd::grad_enabled());
  Var y = ops::scale(x, 3.0f);
  EXPECT_TRUE(y.requires_grad());
  EXPECT_EQ(autograd::tape_size(), 1u);
  autograd::clear_tape();
}

TEST(Autograd, SameVarUsedTwiceSumsGradients) {
  Var x(Tensor::from_vector(std::vector<float>{0.5f, -1.5f}, {2}), true);
  Var y = ops::add(x, x);  // both inputs get the very same gradient tensor
  autograd::backward(ops::sum(ops::mul(y, Var(Tensor::from_vector(std::vector<float>{3.0f, 5.0f}, {2})))));
  EXPECT_EQ(grad_of(x), (std::vector<float>{6, 10}));
  EXPECT_EQ(grad_of(y), (std::vector<float>{3, 5})) << "the gradient of y was modified in place";
}

TEST(Autograd, CopyOnWriteWhenTwoInputsShareAGradient) {
  Var a(Tensor::full({3}, 1.0f), true), b(Tensor::full({3}, 2.0f), true);
  autograd::backward(ops::sum(ops::add(a, b)));
  EXPECT_TRUE(a.grad().shares_storage(b.grad())) << "add hands both inputs one tensor (no copy)";
  autograd::backward(ops::sum(ops::scale(a, 3.0f)));  // accumulates into a only
  EXPECT_EQ(grad_of(a), (std::vector<float>{4, 4, 4}));
  EXPECT_EQ(grad_of(b), (std::vector<float>{1, 1, 1})) << "b's gradient changed with a's";
}

TEST(Autograd, GradientsFlowThroughTemporaries) {
  // Every intermediate below is a temporary owned only by the next op's closure.
  Var x(Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3}), true);
  Var loss = ops::sum(ops::mul(ops::reshape(ops::transpose(ops::scale(x, 2.0f), 0, 1), {6}),
                               Var(Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {6}))));
  autograd::backward(loss);
  ASSERT_TRUE(x.grad().defined()) << "the gradient was lost on the way";
  // transpose(x) flattened is x[0,0], x[1,0], x[0,1], ...: weights 1..6 in that order, times 2.
  EXPECT_EQ(grad_of(x), (std::vector<float>{2, 6, 10, 4, 8, 12}));
}

TEST(Autograd, UnusedOutputsAreSkippedAndLossMustBeScalar) {
  Var x(Tensor::full({3}, 1.0f), true);
  ops::scale(x, 5.0f);  // recorded, but its output is gone: no gradient can reach it
  autograd::backward(ops::sum(x));
  EXPECT_EQ(grad_of(x), (std::vector<float>{1, 1, 1}));
  EXPECT_THROW(autograd::backward(ops::scale(x, 1.0f)), Error);
  autograd::clear_tape();
}

}  // namespace
}  // namespace mapet
