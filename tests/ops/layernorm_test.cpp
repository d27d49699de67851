#include "engine/ops/layernorm.h"

#include "tests/test_util.h"

namespace mapet {
namespace {

std::vector<double> layernorm_ref(const std::vector<std::vector<double>>& in, int64_t dim, double eps) {
  const auto &x = in[0], &g = in[1], &b = in[2];
  std::vector<double> y(x.size());
  for (size_t r = 0; r < x.size() / dim; ++r) {
    double mean = 0, var = 0;
    for (int64_t j = 0; j < dim; ++j) mean += x[r * dim + j];
    mean /= dim;
    for (int64_t j = 0; j < dim; ++j) var += (x[r * dim + j] - mean) * (x[r * dim + j] - mean);
    var /= dim;
    for (int64_t j = 0; j < dim; ++j) y[r * dim + j] = (x[r * dim + j] - mean) / std::sqrt(var + eps) * g[j] + b[j];
  }
  return y;
}

TEST(LayerNorm, MatchesReferenceAndFiniteDifferences) {
  for (auto [rows, dim] : {std::pair<int64_t, int64_t>{7, 13}, {3, 67}, {130, 5}}) {
    uint64_t s = test::fresh_seed();
    SCOPED_TRACE("rows=" + std::to_string(rows) + " dim=" + std::to_string(dim) + " seed=" + std::to_string(s));
    std::vector<Tensor> in{test::randn({rows, dim}, s, 2.0f), test::randn({dim}, s + 1), test::randn({dim}, s + 2)};
    test::check_op([](const std::vector<Var>& v) { return ops::layer_norm(v[0], v[1], v[2], 1e-6f); },
                   [dim](const auto& x) { return layernorm_ref(x, dim, 1e-6); }, in, 1e-5, 1e-5, 1e-3, 1e-4);
  }
}

}  // namespace
}  // namespace mapet
