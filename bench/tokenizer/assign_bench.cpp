// Nearest-centroid assignment, mapet's fused kernel vs Faiss IndexFlatL2
// search with k = 1 (BLAS GEMM in blocks + a scan, Faiss's own k-means
// assignment), on the same data with the same thread count; and one k-means
// iteration with each as faiss::Clustering's assignment index.
//
//   assign_bench [--benchmark_filter=...]   (MAPET_THREADS sets the threads)
//   ASSIGN_ROWS=200000 (default) rows; D = 768 and 4096, K = 8192.
//
// Counters: gflops (2 N K D / time), `reranked` (float64 candidates per row of
// the fused kernel). Once both have run for a D, a line on stdout says on how
// many rows their ids differ and whether each such row is a float64 near-tie.
// Run with --benchmark_enable_random_interleaving=true on a shared machine, so
// that load changes hit both peers alike.
#include <benchmark/benchmark.h>
#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>

#include "bench/tokenizer/assign_data.h"
#include "engine/threads.h"
#include "kernels/cpu/assign.h"
#include "models/tokenizer/faiss_assign_index.h"

extern "C" void openblas_set_num_threads(int);

namespace mapet::bench {
namespace {

constexpr int64_t kK = 8192;

int64_t rows() {
  const char* s = std::getenv("ASSIGN_ROWS");
  return s ? std::atoll(s) : 200000;
}

struct Data {
  int64_t n, d;
  std::vector<float> x, c;
  std::vector<int64_t> faiss_ids, mapet_ids;  // the last run's
  bool compared = false;
};

// Rows where the two disagree; each should be a near-tie in float64 (Faiss
// computes ||x||^2 + ||c||^2 - 2 x.c in f32; the fused kernel's ids are the float64 ones).
void compare_once(Data& D) {
  if (D.compared || D.faiss_ids.empty() || D.mapet_ids.empty()) return;
  D.compared = true;
  int64_t differ = 0, not_tie = 0;
  for (int64_t r = 0; r < D.n; ++r) {
    if (D.mapet_ids[r] == D.faiss_ids[r]) continue;
    ++differ;
    auto dist64 = [&](int64_t j) {
      double s = 0;
      for (int64_t i = 0; i < D.d; ++i) s += std::pow(double(D.x[r * D.d + i]) - D.c[j * D.d + i], 2);
      return s;
    };
    const double a = dist64(D.mapet_ids[r]), b = dist64(D.faiss_ids[r]);
    if (a > b || b - a > 1e-5 * a) ++not_tie;
  }
  std::printf("D=%lld: ids differ on %lld of %lld rows; %lld of them are not float64 near-ties (|d_faiss - d_mapet| > 1e-5 d)\n",
              (long long)D.d, (long long)differ, (long long)D.n, (long long)not_tie);
}

Data& data_for(int64_t d) {
  static std::map<int64_t, std::unique_ptr<Data>> cache;
  auto& p = cache[d];
  if (!p) {
    p = std::make_unique<Data>();
    p->n = rows(), p->d = d;
    p->x = clustered_rows(p->n, d, 2);
    p->c = clustered_rows(kK, d, 3);
  }
  return *p;
}

// Faiss's search calls BLAS; the engine keeps OpenBLAS single-threaded so that
// it does not fight the OpenMP pool. Give BLAS the same thread count here.
struct BlasThreads {
  BlasThreads() { openblas_set_num_threads(num_threads()); }
  ~BlasThreads() { openblas_set_num_threads(1); }
};

void BM_FaissFlatL2(benchmark::State& state) {
  Data& D = data_for(state.range(0));
  BlasThreads blas;
  faiss::IndexFlatL2 index(D.d);
  index.add(kK, D.c.data());
  std::vector<faiss::Index::idx_t> ids(D.n);
  std::vector<float> dist(D.n);
  for (auto _ : state) index.search(D.n, D.x.data(), 1, dist.data(), ids.data());
  D.faiss_ids.assign(ids.begin(), ids.end());
  compare_once(D);
  state.counters["gflops"] = benchmark::Counter(2.0 * D.n * kK * D.d * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.counters["threads"] = num_threads();
}

void mapet_assign(benchmark::State& state, cpu::AssignPrecision precision) {
  Data& D = data_for(state.range(0));
  cpu::AssignCentroids packed(D.c.data(), kK, D.d, precision);
  std::vector<int64_t> ids(D.n);
  cpu::AssignStats stats;
  for (auto _ : state) cpu::assign(packed, D.x.data(), D.n, ids.data(), nullptr, &stats);
  state.counters["gflops"] = benchmark::Counter(2.0 * D.n * kK * D.d * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.counters["reranked"] = double(stats.reranked) / double(stats.rows);
  state.counters["threads"] = num_threads();
  state.SetLabel(packed.precision() == cpu::AssignPrecision::bf16 ? "bf16 sweep" : "f32 sweep");
  if (precision != cpu::AssignPrecision::automatic) return;
  D.mapet_ids = ids;
  compare_once(D);
}

// The default (bf16 sweep where the CPU has it), and the f32 sweep: the same
// precision as the peer's GEMM (the ids are the same either way).
void BM_MapetAssign(benchmark::State& state) { mapet_assign(state, cpu::AssignPrecision::automatic); }
void BM_MapetAssignF32(benchmark::State& state) { mapet_assign(state, cpu::AssignPrecision::f32); }

// One k-means iteration (assignment + centroid update) of faiss::Clustering on
// the same sample, with Faiss's IndexFlatL2 or with the fused kernel as the index.
void kmeans_iteration(benchmark::State& state, bool faiss_flat) {
  Data& D = data_for(state.range(0));
  BlasThreads blas;
  faiss::ClusteringParameters cp;
  cp.niter = 2, cp.nredo = 1, cp.max_points_per_centroid = 1 << 30, cp.seed = 1234;
  double iter = 0, search = 0;
  for (auto _ : state) {
    faiss::Clustering clus(static_cast<int>(D.d), static_cast<int>(kK), cp);
    std::unique_ptr<faiss::Index> index;
    if (faiss_flat) index = std::make_unique<faiss::IndexFlatL2>(D.d);
    else index = std::make_unique<tokenizer::FaissAssignIndex>(D.d);
    clus.train(D.n, D.x.data(), *index);
    // Per-iteration time: the second iteration (the first includes initialisation); Faiss's times are cumulative.
    const auto& s = clus.iteration_stats;
    iter = s[1].time - s[0].time, search = s[1].time_search - s[0].time_search;
    state.SetIterationTime(iter);
  }
  state.counters["search_s"] = search;
  state.counters["update_s"] = iter - search;
}

void BM_KMeansIterFaissFlat(benchmark::State& state) { kmeans_iteration(state, true); }
void BM_KMeansIterMapet(benchmark::State& state) { kmeans_iteration(state, false); }

void args(benchmark::internal::Benchmark* b) {
  b->Arg(768)->Arg(4096)->Iterations(1)->Repetitions(3)->Unit(benchmark::kSecond)->UseRealTime();
}

BENCHMARK(BM_FaissFlatL2)->Apply(args);
BENCHMARK(BM_MapetAssign)->Apply(args);
BENCHMARK(BM_MapetAssignF32)->Apply(args);
BENCHMARK(BM_KMeansIterFaissFlat)->Arg(768)->Iterations(1)->Repetitions(2)->Unit(benchmark::kSecond)->UseManualTime();
BENCHMARK(BM_KMeansIterMapet)->Arg(768)->Iterations(1)->Repetitions(2)->Unit(benchmark::kSecond)->UseManualTime();

}  // namespace
}  // namespace mapet::bench

int main(int argc, char** argv) {
  mapet::init_threads_from_env();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
