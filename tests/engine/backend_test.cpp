// engine/backend.h: an op's kernel call runs the CPU kernel for CPU tensors and
// the CUDA entry point otherwise, and an entry point without a CUDA kernel in
// this build throws a message that names it (never a silent CPU run). Storage
// cannot be on a GPU yet, so these call the dispatch with a Device directly.
#include "engine/backend.h"

#include "kernels/cpu/gelu.h"
#include "kernels/cpu/softmax.h"
#include "kernels/cuda/gelu.cuh"
#include "kernels/cuda/softmax.cuh"
#include "tests/test_util.h"

namespace mapet {
namespace {

TEST(Backend, CpuDeviceRunsTheCpuKernel) {
  Tensor x = test::randn({37}, test::fresh_seed());
  Tensor got = Tensor::empty_like(x), want = Tensor::empty_like(x);
  const Device dev = backend::device_of("gelu", {x, got});
  ASSERT_EQ(dev, Device::cpu);
  MAPET_BACKEND_CALL(dev, gelu_forward, x.data<float>(), got.data<float>(), x.numel());
  cpu::gelu_forward(x.data<float>(), want.data<float>(), x.numel());
  EXPECT_EQ(got.to_vector(), want.to_vector());
}

TEST(Backend, DeviceOfSkipsUndefinedTensors) {
  Tensor x = Tensor::zeros({2}), none;
  EXPECT_EQ(backend::device_of("linear", {x, none}), Device::cpu);
  EXPECT_EQ(backend::device_of("linear", {none}), Device::cpu);
}

TEST(Backend, HostLoopOpsRefuseOtherDevices) {
  EXPECT_NO_THROW(backend::host_loop_only("mean", Device::cpu));
  try {
    backend::host_loop_only("mean", Device::cuda);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "mean has no CUDA kernel in this build");
  }
}

#if !MAPET_HAVE_CUDA
// Every entry point has a kernel in kernels/cuda/ now, so only a build without
// nvcc has stubs (engine/cuda/no_cuda.cpp, linked when the build has no CUDA toolkit): each throws naming itself.
TEST(Backend, CudaEntryPointWithoutKernelThrowsNamingIt) {
  float x[4] = {1, 2, 3, 4}, y[4];
  try {
    MAPET_BACKEND_CALL(Device::cuda, softmax_forward, x, y, 1, 4, 1.0f);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "softmax_forward has no CUDA kernel in this build");
  }
}

TEST(Backend, BuildWithoutCudaStubsEveryEntryPoint) {
  float x[1] = {0}, y[1];
  EXPECT_THROW(MAPET_BACKEND_CALL(Device::cuda, gelu_forward, x, y, 1), Error);
}
#endif

}  // namespace
}  // namespace mapet
