// CUDA kernels against their CPU twins. Runs only where a GPU is present;
// elsewhere each test skips and says why.
#include "kernels/cuda/kernels.h"

#include "kernels/cpu/gelu.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

TEST(CudaKernels, GeluMatchesCpu) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  Tensor x = test::randn({1000003}, test::fresh_seed(), 3.0f);
  Tensor want = Tensor::empty_like(x), got = Tensor::empty_like(x);
  cpu::gelu_forward(x.data<float>(), want.data<float>(), x.numel());
  ASSERT_EQ(cuda::gelu_forward_host(x.data<float>(), got.data<float>(), x.numel()), "");
  std::vector<float> w = want.to_vector();
  EXPECT_TRUE(test::all_close(got, std::vector<double>(w.begin(), w.end()), 1e-6, 1e-7));
}

}  // namespace
}  // namespace mapet
