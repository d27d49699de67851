// Helpers shared by the tests: random inputs, float64 references, and a
// gradient check of an op's backward against central differences of a
// float64 reference implementation of the same op.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <random>
#include <vector>

#include "engine/autograd.h"
#include "engine/rng.h"

namespace mapet::test {

// A fresh seed per call (from the test's name and a counter), printed on failure.
uint64_t fresh_seed();

inline Tensor randn(const Shape& s, uint64_t seed, float std = 1.0f) {
  Tensor t = Tensor::empty(s);
  Generator g(seed);
  g.normal_(t, 0.0f, std);
  return t;
}

inline Tensor randu(const Shape& s, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  Tensor t = Tensor::empty(s);
  Generator g(seed);
  g.uniform_(t, lo, hi);
  return t;
}

inline std::vector<double> to_double(const Tensor& t) {
  std::vector<float> f = t.to_vector();
  return std::vector<double>(f.begin(), f.end());
}

// max |a - b| / (atol + rtol |b|) <= 1, reporting the worst element.
::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<double>& want, double rtol,
                                     double atol);
inline ::testing::AssertionResult all_close(const Tensor& got, const std::vector<double>& want, double rtol,
                                            double atol) {
  return all_close(got.to_vector(), want, rtol, atol);
}

// A float64 reference: inputs (flattened, in the order of the op's inputs) -> output (flattened).
using RefFn = std::function<std::vector<double>(const std::vector<std::vector<double>>&)>;
using OpFn = std::function<Var(const std::vector<Var>&)>;

// Runs op forward on `inputs` (every one requiring grad unless listed in
// no_grad), checks the output against ref, then backpropagates a random
// cotangent R and compares every input gradient with central differences of
// sum(ref(x) * R) in float64.
void check_op(const OpFn& op, const RefFn& ref, const std::vector<Tensor>& inputs, double fwd_rtol, double fwd_atol,
              double grad_rtol, double grad_atol, const std::vector<size_t>& no_grad = {}, uint64_t seed = 1);

// The name of a temp file of an atomic write (".tmp" in its name) left behind in `dir`; "" when none.
inline std::string temp_file_in(const std::string& dir) {
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp") != std::string::npos) return e.path().filename().string();
  return "";
}

}  // namespace mapet::test
