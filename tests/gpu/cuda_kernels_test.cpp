// CUDA kernels against their CPU twins. Runs only where a GPU is present;
// elsewhere each test skips and says why.
#include "kernels/cpu/adamw.h"
#include "kernels/cpu/gelu.h"
#include "kernels/cuda/adamw.cuh"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/gelu.cuh"
#include "tests/test_util.h"

namespace mapet {
namespace {

// A host tensor's copy in device memory, freed with it.
struct DeviceCopy {
  void* p;
  size_t bytes;
  explicit DeviceCopy(const Tensor& t) : p(cuda::device_alloc(t.nbytes())), bytes(t.nbytes()) {
    cuda::copy_to_device(p, t.raw_data(), bytes);
  }
  ~DeviceCopy() { cuda::device_free(p); }
  float* f() const { return static_cast<float*>(p); }
  Tensor to_host(const Shape& shape) const {
    Tensor t = Tensor::empty(shape);
    cuda::copy_to_host(t.raw_data(), p, bytes);
    return t;
  }
};

TEST(CudaKernels, GeluMatchesCpu) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  Tensor x = test::randn({1000003}, test::fresh_seed(), 3.0f);
  Tensor want = Tensor::empty_like(x);
  cpu::gelu_forward(x.data<float>(), want.data<float>(), x.numel());
  DeviceCopy dx(x), dy(want);
  cuda::gelu_forward(dx.f(), dy.f(), x.numel());
  std::vector<float> w = want.to_vector();
  EXPECT_TRUE(test::all_close(dy.to_host(x.shape()), std::vector<double>(w.begin(), w.end()), 1e-6, 1e-7));
}

TEST(CudaKernels, AdamwMatchesCpu) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  const uint64_t seed = test::fresh_seed();
  const Shape shape{4099};
  Tensor p = test::randn(shape, seed), g = test::randn(shape, seed + 1), m = test::randn(shape, seed + 2, 0.1f);
  Tensor v = test::randu(shape, seed + 3, 0.0f, 0.01f);
  const common::AdamWStep s{1e-3f, 0.9f, 0.999f, 1e-8f, 0.05f, 0.19f, 0.0447f};
  DeviceCopy dp(p), dg(g), dm(m), dv(v);
  cuda::adamw_step(s, dp.f(), dg.f(), dm.f(), dv.f(), p.numel());
  cpu::adamw_step(s, p.data<float>(), g.data<float>(), m.data<float>(), v.data<float>(), p.numel());
  for (auto [dev, host] : {std::pair{&dp, &p}, std::pair{&dm, &m}, std::pair{&dv, &v}}) {
    std::vector<float> w = host->to_vector();
    EXPECT_TRUE(test::all_close(dev->to_host(shape), std::vector<double>(w.begin(), w.end()), 1e-6, 1e-7));
  }
}

}  // namespace
}  // namespace mapet
