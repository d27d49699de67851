// The bench/cuda driver: runs every registered kernel bench (bench.h), or
// those named by --only. Exit status: 0 when every check passed, 1 on a
// mismatch or an error, 77 when the GPU build finds no GPU.
//
//   cuda_bench_simt [--only a,b] [--full]   validate under kernels/simt (small shape; --full: the real one, slow)
//   cuda_bench      [--only a,b] [--iters N] validate and time on the GPU at the MaPeT-Small shape
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "bench/cuda/bench.h"

#if defined(MAPET_TWIN_GPU)
#include "kernels/cuda/device.cuh"
#endif

using namespace mapet::cuda_bench;

namespace {

bool selected(const std::string& name, const std::string& only) {
  if (only.empty()) return true;
  size_t start = 0;
  while (start <= only.size()) {
    const size_t end = std::min(only.find(',', start), only.size());
    if (only.compare(start, end - start, name) == 0) return true;
    start = end + 1;
  }
  return false;
}

void usage() {
  std::printf("usage: cuda_bench[_simt] [--only name,name] [--iters N] [--full] [--seed S] [--list]\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string only;
  int iters = 20;
  bool full = false, list = false;
  uint64_t seed = 20240601;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--only" && i + 1 < argc) only = argv[++i];
    else if (a == "--iters" && i + 1 < argc) iters = std::max(1, std::atoi(argv[++i]));
    else if (a == "--seed" && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--full") full = true;
    else if (a == "--list") list = true;
    else {
      usage();
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  auto& entries = registry();
  std::sort(entries.begin(), entries.end(), [](const Entry& x, const Entry& y) { return x.name < y.name; });
  if (list) {
    for (const Entry& e : entries) std::printf("%s\n", e.name.c_str());
    return 0;
  }

#if defined(MAPET_TWIN_GPU)
  if (mapet::cuda::device_count() == 0) {
    std::printf("no GPU: this is the nvcc build (cuda_bench); cuda_bench_simt validates the same kernels under "
                "kernels/simt\n");
    return 77;
  }
  const bool gpu = true;
  const Shape shape = mapet_small();  // a GPU always takes the full shape
  (void)full;
  std::printf("bench/cuda on %s: validated against the CPU twins, then timed (CUDA events, 3 warm-up launches, "
              "median of %d)\n", mapet::cuda::device_name(0).c_str(), iters);
#else
  const bool gpu = false;
  const Shape shape = full ? mapet_small() : simt_small();
  // The CPU twins on one OpenMP thread: idle OpenMP workers spin after each
  // parallel region and would take the cores from the simt threads.
  omp_set_num_threads(1);
  std::printf("bench/cuda under kernels/simt (no GPU): each kernel validated against its CPU twin in forward, "
              "reverse and random thread order\n");
  if (!full)
    std::printf("a small shape: the full %s would take tens of minutes under simt (--full runs it)\n",
                mapet_small().name);
#endif
  std::printf("shape: %s: T=%ld L=%ld (S=%ld sequence rows per image), D=%ld, heads %ld, hidden %ld, %ld classes, "
              "codebook %ldx%ld, %ld blocks\n\n", shape.name, long(shape.T), long(shape.L), long(shape.S()),
              long(shape.D), long(shape.heads), long(shape.hidden), long(shape.classes), long(shape.centroids),
              long(shape.feature_dim), long(shape.depth));

  Bench bench(shape, gpu, iters, seed);
  int errors = 0, ran = 0;
  for (const Entry& e : entries) {
    if (!selected(e.name, only)) continue;
    ++ran;
    std::printf("%s\n", e.name.c_str());
    std::fflush(stdout);
    const auto t0 = std::chrono::steady_clock::now();
    try {
      e.fn(bench);
    } catch (const std::exception& ex) {
      ++errors;
      std::printf("  FAIL %s threw: %s\n", e.name.c_str(), ex.what());
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("  (%.1f s)\n", s);
    std::fflush(stdout);
  }
  if (ran == 0) {
    std::printf("no bench named %s (--list shows them)\n", only.c_str());
    return 2;
  }
#if defined(MAPET_CUDA_BENCH_UNCOVERED)
  if (std::strlen(MAPET_CUDA_BENCH_UNCOVERED) > 0)
    std::printf("\nkernels/cuda files without a bench/cuda file yet: %s\n", MAPET_CUDA_BENCH_UNCOVERED);
#endif
  const int failed = bench.failures() + errors;
  std::printf("\n%d bench(es), %s\n", ran, failed ? (std::to_string(failed) + " FAILED").c_str() : "every check passed");
  if (!gpu) std::printf("no GPU: validated under the SIMT runtime, no GPU timing taken\n");
  return failed ? 1 : 0;
}
