// cuda::conv2d_nhwc_cudnn: y = relu?(conv(x, w) + bias) as three cuDNN calls
// (cudnnConvolutionForward, cudnnAddTensor, cudnnActivationForward in place).
// cudnnConvolutionBiasActivationForward would fuse them, but it takes only
// ReLU-or-identity with restrictions on the algorithm for identity; the
// unfused form is correct for every algorithm cuDNN picks. (To measure when a
// GPU is lent: the fused call for the ReLU convolutions.)
#include "kernels/cuda/cudnn_conv.h"

#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>

namespace mapet::cuda {

namespace {

void check(cudnnStatus_t st, const char* call) {
  if (st != CUDNN_STATUS_SUCCESS)
    throw std::runtime_error(std::string("cuDNN: ") + call + " failed: " + cudnnGetErrorString(st));
}

void check_cuda(cudaError_t e, const char* call) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("cuDNN convolution: ") + call + " failed: " + cudaGetErrorString(e));
}

// A handle per thread and device (a cuDNN handle must not be used by two threads at once).
cudnnHandle_t handle() {
  struct Handle {
    cudnnHandle_t h = nullptr;
    int device = -1;
    ~Handle() {
      if (h) cudnnDestroy(h);
    }
  };
  thread_local Handle t;
  int dev = 0;
  check_cuda(cudaGetDevice(&dev), "cudaGetDevice");
  if (!t.h || t.device != dev) {
    if (t.h) cudnnDestroy(t.h);
    t.h = nullptr;
    check(cudnnCreate(&t.h), "cudnnCreate");
    t.device = dev;
  }
  return t.h;
}

// The descriptors of one call, destroyed at its end.
struct Descs {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnActivationDescriptor_t relu = nullptr;
  ~Descs() {
    if (x) cudnnDestroyTensorDescriptor(x);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (bias) cudnnDestroyTensorDescriptor(bias);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    if (relu) cudnnDestroyActivationDescriptor(relu);
  }
};

int to_int(int64_t v, const char* what) {
  if (v < 0 || v > INT32_MAX) throw std::runtime_error(std::string("cuDNN convolution: ") + what + " " + std::to_string(v) + " exceeds cuDNN's int range");
  return static_cast<int>(v);
}

cudnnTensorDescriptor_t nhwc(int64_t n, int64_t c, int64_t h, int64_t w) {
  cudnnTensorDescriptor_t d = nullptr;
  check(cudnnCreateTensorDescriptor(&d), "cudnnCreateTensorDescriptor");
  const cudnnStatus_t st = cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, to_int(n, "batch"),
                                                      to_int(c, "channels"), to_int(h, "height"), to_int(w, "width"));
  if (st != CUDNN_STATUS_SUCCESS) cudnnDestroyTensorDescriptor(d);
  check(st, "cudnnSetTensor4dDescriptor");
  return d;
}

// The fastest algorithm for a shape (and the workspace it needs), asked once.
using ShapeKey = std::tuple<int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t>;
struct Algo {
  cudnnConvolutionFwdAlgo_t algo;
  size_t workspace;
};

Algo find_algo(cudnnHandle_t h, const Descs& d, const ShapeKey& key) {
  static std::mutex mu;
  static std::map<ShapeKey, Algo> cache;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int found = 0;
  check(cudnnGetConvolutionForwardAlgorithm_v7(h, d.x, d.w, d.conv, d.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found, perf),
        "cudnnGetConvolutionForwardAlgorithm_v7");
  for (int i = 0; i < found; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].mathType == CUDNN_FMA_MATH)
      return cache[key] = Algo{perf[i].algo, perf[i].memory};
  throw std::runtime_error("cuDNN convolution: no f32 (FMA math) algorithm for this shape");
}

}  // namespace

void conv2d_nhwc_cudnn(const common::ConvGeometry& g, int64_t n, int64_t h, int64_t w, const float* x,
                       const float* weight, const float* bias, bool relu, float* y, void* stream) {
  cudnnHandle_t hd = handle();
  auto s = static_cast<cudaStream_t>(stream);
  check(cudnnSetStream(hd, s), "cudnnSetStream");
  Descs d;
  d.x = nhwc(n, g.c_in, h, w);
  d.y = nhwc(n, g.c_out, g.out_h(h), g.out_w(w));
  check(cudnnCreateFilterDescriptor(&d.w), "cudnnCreateFilterDescriptor");
  check(cudnnSetFilter4dDescriptor(d.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, to_int(g.c_out, "c_out"),
                                   to_int(g.c_in, "c_in"), to_int(g.kh, "kh"), to_int(g.kw, "kw")),
        "cudnnSetFilter4dDescriptor");
  check(cudnnCreateConvolutionDescriptor(&d.conv), "cudnnCreateConvolutionDescriptor");
  check(cudnnSetConvolution2dDescriptor(d.conv, to_int(g.pad, "padding"), to_int(g.pad, "padding"),
                                        to_int(g.stride, "stride"), to_int(g.stride, "stride"), 1, 1,
                                        CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
        "cudnnSetConvolution2dDescriptor");
  check(cudnnSetConvolutionMathType(d.conv, CUDNN_FMA_MATH), "cudnnSetConvolutionMathType");
  int dev = 0;
  check_cuda(cudaGetDevice(&dev), "cudaGetDevice");
  const Algo a = find_algo(hd, d, ShapeKey{dev, n, h, w, g.c_in, g.c_out, g.kh, g.kw, g.stride, g.pad});

  void* ws = nullptr;
  if (a.workspace > 0) check_cuda(cudaMallocAsync(&ws, a.workspace, s), "cudaMallocAsync(workspace)");
  const float one = 1.0f, zero = 0.0f;
  const cudnnStatus_t st = cudnnConvolutionForward(hd, &one, d.x, x, d.w, weight, d.conv, a.algo, ws, a.workspace,
                                                   &zero, d.y, y);
  if (ws) cudaFreeAsync(ws, s);
  check(st, "cudnnConvolutionForward");
  if (bias) {
    d.bias = nhwc(1, g.c_out, 1, 1);
    check(cudnnAddTensor(hd, &one, d.bias, bias, &one, d.y, y), "cudnnAddTensor(bias)");
  }
  if (relu) {
    check(cudnnCreateActivationDescriptor(&d.relu), "cudnnCreateActivationDescriptor");
    check(cudnnSetActivationDescriptor(d.relu, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0),
          "cudnnSetActivationDescriptor");
    check(cudnnActivationForward(hd, d.relu, &one, d.y, y, &zero, d.y, y), "cudnnActivationForward(relu)");
  }
}

}  // namespace mapet::cuda
