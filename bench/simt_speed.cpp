// Speed of the SIMT runtime (kernels/simt): what a CUDA thread costs on the
// CPU, alone, per __syncthreads and per warp collective; figures in
// kernels/simt/README.md. Run: build/bench/simt_speed (MAPET_SIMT_THREADS sets
// the worker count; the per-thread figures use one worker).
#include <benchmark/benchmark.h>

#include <vector>

#include "kernels/cuda/dialect.cuh"

namespace {

__global__ void trivial(float* out) { out[blockIdx.x * blockDim.x + threadIdx.x] = 1.0f; }

__global__ void barriers(float* out, int n) {
  __shared__ float s[1024];
  float v = threadIdx.x;
  for (int i = 0; i < n; ++i) {
    s[threadIdx.x] = v;
    __syncthreads();
    v += s[(threadIdx.x + 1) % blockDim.x];
  }
  out[blockIdx.x * blockDim.x + threadIdx.x] = v;
}

__global__ void shuffles(float* out, int n) {
  float v = threadIdx.x;
  for (int i = 0; i < n; ++i) v += __shfl_xor_sync(0xffffffffu, v, i % 32);
  out[blockIdx.x * blockDim.x + threadIdx.x] = v;
}

__global__ void mmas(float* out, int n) {
  uint32_t a[4] = {0x3f803f80u, 0x3f803f80u, 0x3f803f80u, 0x3f803f80u}, b[2] = {0x3f803f80u, 0x3f803f80u};
  float acc[4] = {0, 0, 0, 0};
  for (int i = 0; i < n; ++i) mma_m16n8k16_bf16_f32(acc, a, b, acc);
  out[blockIdx.x * blockDim.x + threadIdx.x] = acc[0];
}

// 1000 blocks x 256 threads of a trivial kernel, on all workers.
void BM_TrivialLaunch(benchmark::State& state) {
  std::vector<float> out(1000 * 256);
  for (auto _ : state) MAPET_LAUNCH(trivial, 1000, 256, 0, nullptr, out.data());
  state.counters["ns/thread"] =
      benchmark::Counter(1000.0 * 256, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["workers"] = mapet::simt::worker_count();
}
BENCHMARK(BM_TrivialLaunch)->Unit(benchmark::kMillisecond)->UseRealTime();

template <class Body>
void one_worker(benchmark::State& state, double events_per_iter, Body body) {
  const int saved = mapet::simt::worker_count();
  mapet::simt::set_worker_count(1);
  for (auto _ : state) body();
  mapet::simt::set_worker_count(saved);
  state.counters["ns/event"] = benchmark::Counter(
      events_per_iter, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// One worker: per thread, alone (no barrier: the fast path).
void BM_ThreadAlone(benchmark::State& state) {
  std::vector<float> out(100 * 256);
  one_worker(state, 100 * 256, [&] { MAPET_LAUNCH(trivial, 100, 256, 0, nullptr, out.data()); });
}
BENCHMARK(BM_ThreadAlone)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Per thread per __syncthreads (256 threads, 100 barriers, minus nothing: includes the loop body).
void BM_ThreadBarrier(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  std::vector<float> out(threads);
  one_worker(state, 100.0 * threads, [&] { MAPET_LAUNCH(barriers, 1, threads, 0, nullptr, out.data(), 100); });
}
BENCHMARK(BM_ThreadBarrier)->Arg(256)->Arg(1024)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Per thread per __shfl_xor_sync.
void BM_ThreadShuffle(benchmark::State& state) {
  std::vector<float> out(256);
  one_worker(state, 100.0 * 256, [&] { MAPET_LAUNCH(shuffles, 1, 256, 0, nullptr, out.data(), 100); });
}
BENCHMARK(BM_ThreadShuffle)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Per warp-wide mma.sync.m16n8k16 (2 x 16 x 8 x 16 = 4096 flops).
void BM_WarpMma(benchmark::State& state) {
  std::vector<float> out(256);
  one_worker(state, 100.0 * 8, [&] { MAPET_LAUNCH(mmas, 1, 256, 0, nullptr, out.data(), 100); });
}
BENCHMARK(BM_WarpMma)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
