// Softmax cross-entropy (engine/ops/cross_entropy.cpp, kernels/cpu/cross_entropy.cpp)
// with torch's label_smoothing and ignore_index semantics.
#include "engine/ops/cross_entropy.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

// torch.nn.functional.cross_entropy(logits, labels, label_smoothing=eps, ignore_index=ign), mean reduction.
double ce_ref(const std::vector<double>& x, const std::vector<int64_t>& labels, int64_t classes, double eps,
              int64_t ign) {
  double total = 0;
  int64_t counted = 0;
  for (size_t r = 0; r < labels.size(); ++r) {
    if (labels[r] == ign) continue;
    const double* row = x.data() + r * classes;
    double m = *std::max_element(row, row + classes), s = 0, mean_logp = 0;
    for (int64_t j = 0; j < classes; ++j) s += std::exp(row[j] - m);
    double lse = m + std::log(s);
    for (int64_t j = 0; j < classes; ++j) mean_logp += (row[j] - lse) / classes;
    total += -(1 - eps) * (row[labels[r]] - lse) - eps * mean_logp;
    ++counted;
  }
  return total / counted;
}

Tensor labels_tensor(const std::vector<int64_t>& l) { return Tensor::from_vector(l, {static_cast<int64_t>(l.size())}); }

TEST(CrossEntropy, SmoothingAndIgnoreIndexMatchReference) {
  const int64_t classes = 13;
  const std::vector<int64_t> labels{3, -100, 12, 0, 7, -100, 5};
  for (float eps : {0.0f, 0.1f}) {
    uint64_t s = test::fresh_seed();
    SCOPED_TRACE("smoothing=" + std::to_string(eps) + " seed=" + std::to_string(s));
    test::check_op(
        [&](const std::vector<Var>& v) { return ops::cross_entropy(v[0], labels_tensor(labels), eps, -100); },
        [&](const auto& x) { return std::vector<double>{ce_ref(x[0], labels, classes, eps, -100)}; },
        {test::randn({7, classes}, s, 3.0f)}, 1e-5, 1e-6, 1e-4, 1e-6);
  }
}

TEST(CrossEntropy, CustomIgnoreIndexAndManyRows) {
  const int64_t rows = 197, classes = 67;
  uint64_t s = test::fresh_seed();
  std::vector<int64_t> labels(rows);
  for (int64_t i = 0; i < rows; ++i) labels[i] = i % 5 == 0 ? 9 : (i * 31) % classes;  // 9 is also ignored
  Tensor x = test::randn({rows, classes}, s, 2.0f);
  Var loss = ops::cross_entropy(Var(x), labels_tensor(labels), 0.2f, 9);
  EXPECT_NEAR(loss.value().item(), ce_ref(test::to_double(x), labels, classes, 0.2, 9), 1e-5);
}

TEST(CrossEntropy, AllRowsIgnoredGivesNanLossAndZeroGradient) {
  Var x(test::randn({3, 5}, test::fresh_seed()), true);
  Var loss = ops::cross_entropy(x, labels_tensor({-100, -100, -100}));
  EXPECT_TRUE(std::isnan(loss.value().item()));
  autograd::backward(loss);
  ASSERT_TRUE(x.grad().defined());
  for (float g : x.grad().to_vector()) EXPECT_EQ(g, 0.0f);
}

TEST(CrossEntropy, OutOfRangeLabelIsAClearError) {
  Var x(Tensor::zeros({2, 5}), true);
  for (int64_t bad : {5, -1}) {
    try {
      ops::cross_entropy(x, labels_tensor({0, bad}));
      ADD_FAILURE() << "label " << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::to_string(bad)), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(autograd::tape_size(), 0u);
  EXPECT_THROW(ops::cross_entropy(x, labels_tensor({0, 1, 2})), Error);  // wrong number of labels
}

}  // namespace
}  // namespace mapet
