// Device::cuda tensors under the simt backend: copies between devices, the
// caching allocator, and what the runtime layer reports.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "engine/cuda/allocator.h"
#include "engine/cuda/runtime.h"
#include "engine/nn/layers.h"
#include "engine/tensor.h"
#include "kernels/simt/cudart.h"

namespace mapet {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(DeviceModule, ToMovesEveryParameterAndKeepsTheVars) {
  nn::Linear lin(3, 4, true);
  lin.parameter("weight").mutable_value() = Tensor::full({4, 3}, 0.5f);
  const Var w = lin.parameter("weight");
  EXPECT_EQ(lin.device(), Device::cpu);
  lin.to(Device::cuda);
  EXPECT_EQ(lin.device(), Device::cuda);
  for (const nn::NamedParam& p : lin.named_parameters()) EXPECT_EQ(p.var.value().device(), Device::cuda) << p.name;
  EXPECT_EQ(w.value().device(), Device::cuda);  // the same Var, moved
  lin.to(Device::cpu);
  EXPECT_EQ(w.value().to_vector(), std::vector<float>(12, 0.5f));
}

TEST(DeviceTensor, RoundTripsThroughTheDevice) {
  std::vector<float> v(1000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.5f * static_cast<float>(i) - 7.25f;
  Tensor host = Tensor::from_vector(v, {10, 100});
  Tensor dev = host.to(Device::cuda);
  EXPECT_EQ(dev.device(), Device::cuda);
  EXPECT_FALSE(dev.shares_storage(host));
  EXPECT_EQ(dev.shape(), host.shape());
  // The device copy is device memory (cudaMalloc'ed), not the host buffer.
  EXPECT_NE(dev.raw_data(), host.raw_data());
  Tensor back = dev.to(Device::cpu);
  EXPECT_EQ(back.device(), Device::cpu);
  EXPECT_EQ(back.to_vector(), v);
  EXPECT_EQ(dev.to_vector(), v);  // reads a cuda tensor through a host copy
  EXPECT_EQ(dev.at({3, 7}), v[307]);
  // A strided host view goes over contiguous; a device-to-device clone keeps the values.
  Tensor t = host.transpose(0, 1).to(Device::cuda);
  EXPECT_EQ(t.to_vector(), host.transpose(0, 1).to_vector());
  EXPECT_EQ(dev.clone().to_vector(), v);
  // A strided view of device memory comes back through the span it covers.
  EXPECT_EQ(dev.transpose(0, 1).to(Device::cpu).to_vector(), host.transpose(0, 1).to_vector());
  EXPECT_EQ(dev.slice(1, 3, 9).to(Device::cpu).to_vector(), host.slice(1, 3, 9).to_vector());
  // ...and contiguous() of one stays on the device (cuda::copy_strided).
  Tensor c = dev.transpose(0, 1).contiguous();
  EXPECT_EQ(c.device(), Device::cuda);
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c.to_vector(), host.transpose(0, 1).to_vector());
  EXPECT_EQ(dev.to(Device::cuda).raw_data(), dev.raw_data());  // already there: the same tensor
}

TEST(DeviceTensor, ZerosAndIntegerTensors) {
  Tensor z = Tensor::zeros({3, 5}, DType::f32, Device::cuda);
  EXPECT_EQ(z.to_vector(), std::vector<float>(15, 0.0f));
  Tensor ids = Tensor::from_vector(std::vector<int64_t>{4, -2, 9}, {3}).to(Device::cuda);
  EXPECT_EQ(ids.dtype(), DType::i64);
  EXPECT_EQ(ids.to(Device::cpu).data<int64_t>()[1], -2);
  EXPECT_NE(error_of([&] { z.fill_(1.0f); }).find("no fill kernel"), std::string::npos);
  EXPECT_NE(error_of([&] { z.to(DType::bf16); }).find("on cuda"), std::string::npos);
  EXPECT_NE(z.str().find("(cuda)"), std::string::npos);
}

TEST(DeviceAllocator, ReusesFreedBlocksOfItsSizeClass) {
  device::release_cache();
  const AllocatorStats s0 = device::allocator_stats();
  { Tensor a = Tensor::empty({1000}, DType::f32, Device::cuda); }  // 4000 bytes: the 4096 class
  const AllocatorStats s1 = device::allocator_stats();
  EXPECT_EQ(s1.fresh_allocations, s0.fresh_allocations + 1);
  EXPECT_EQ(s1.bytes_in_use, s0.bytes_in_use);
  EXPECT_EQ(s1.bytes_cached, s0.bytes_cached + device::size_class(4000));
  { Tensor b = Tensor::empty({1020}, DType::f32, Device::cuda); }  // 4080 bytes: the same class, reused
  const AllocatorStats s2 = device::allocator_stats();
  EXPECT_EQ(s2.fresh_allocations, s1.fresh_allocations);
  EXPECT_EQ(s2.reused_allocations, s1.reused_allocations + 1);
  EXPECT_GE(s2.peak_in_use, device::size_class(4000));
  const size_t live = simt::cudart::live_allocations();
  device::release_cache();
  EXPECT_EQ(device::allocator_stats().bytes_cached, 0u);
  EXPECT_LT(simt::cudart::live_allocations(), live);  // cudaFree'd
  EXPECT_NE(device::allocator_summary().find("device memory: peak"), std::string::npos);
}

TEST(DeviceAllocator, SizeClasses) {
  EXPECT_EQ(device::size_class(1), 512u);
  EXPECT_EQ(device::size_class(513), 1024u);
  EXPECT_EQ(device::size_class(1 << 20), size_t(1) << 20);
  EXPECT_EQ(device::size_class((1 << 20) + 1), (size_t(1) << 20) + (size_t(1) << 18));  // 1/8 of 2 MiB steps
}

TEST(DeviceAllocator, OutOfMemoryNamesTheTensorAndTheFigures) {
  device::release_cache();
  const size_t total = simt::cudart::device_memory();
  simt::cudart::set_device_memory(simt::cudart::bytes_allocated() + (64 << 20));
  Tensor keep = Tensor::empty({4 << 20}, DType::f32, Device::cuda);  // 16 MiB in use
  const std::string msg = error_of([] { Tensor::empty({100, 1000, 1000}, DType::f32, Device::cuda); });
  simt::cudart::set_device_memory(total);
  EXPECT_NE(msg.find("out of device memory"), std::string::npos) << msg;
  EXPECT_NE(msg.find("400000000 bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("f32[100, 1000, 1000]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("0.02 GiB in use"), std::string::npos) << msg;  // the 16 MiB tensor
  EXPECT_NE(msg.find("free of"), std::string::npos) << msg;
}

TEST(DeviceRuntime, StreamsEventsAndErrorsNameTheOp) {
  EXPECT_EQ(device::device_count(), 1);
  device::select(0);
  EXPECT_NE(error_of([] { device::select(3, "pretrain"); }).find("pretrain: cuda:3 does not exist"), std::string::npos);
  device::Stream s;
  Tensor src = Tensor::from_vector(std::vector<float>{1, 2, 3}, {3});
  Tensor dst;
  {
    device::StreamGuard g(s.get());
    EXPECT_EQ(device::current_stream(), s.get());
    dst = src.to(Device::cuda);  // allocated and copied on s
  }
  EXPECT_EQ(device::current_stream(), nullptr);
  device::Event a, b;
  a.record(s.get());
  s.wait_for(nullptr);
  b.record(s.get());
  b.synchronize();
  EXPECT_GE(b.elapsed_ms_since(a), 0.0f);
  s.synchronize();
  EXPECT_EQ(dst.to_vector(), (std::vector<float>{1, 2, 3}));
  // A host pointer where device memory is meant: refused, and the error names the op and the CUDA error.
  float host[3];
  const std::string msg = error_of([&] { device::copy_to_host(host, src.raw_data(), 12, nullptr, "my_op"); });
  EXPECT_NE(msg.find("my_op: cudaMemcpyAsync to the host failed: cudaErrorInvalidValue"), std::string::npos) << msg;
}

TEST(DevicePinned, StagingBuffers) {
  float* p = static_cast<float*>(device::pinned_alloc(64));
  p[0] = 3.0f;
  device::pinned_free(p);
  int stranger = 0;
  EXPECT_NE(error_of([&] { device::pinned_free(&stranger); }).find("cudaFreeHost"), std::string::npos);
}

}  // namespace
}  // namespace mapet
