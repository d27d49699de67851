// k-CLIP feature extraction on the CPU: images/s of CLIP's ResNets to their
// last residual stage at the tokenizer's resolution (448 = 14 x 32), and of
// CLIP ViT-B/16 at 224, with random weights of the real shapes.
//
//   clip_bench [--benchmark_filter=RN50x64]   (MAPET_THREADS sets the threads)
#include <benchmark/benchmark.h>

#include "engine/rng.h"
#include "engine/threads.h"
#include "models/clip_resnet.h"
#include "models/clip_vit.h"

namespace mapet::bench {
namespace {

Tensor images(int64_t b, int64_t size) {
  Tensor t = Tensor::empty({b, 3, size, size});
  Generator g(1);
  g.normal_(t);
  return t;
}

void BM_ClipResNet(benchmark::State& state, const char* name) {
  const models::ClipResNetConfig c = models::clip_resnet_config(name);
  const models::ClipResNet net(c, models::ClipWeights(models::random_clip_resnet_weights(c, 1), name));
  const int64_t batch = state.range(0);
  Tensor x = images(batch, 14 * models::ClipResNetConfig::kStride);
  net.features(x);  // primitives and weight layouts
  for (auto _ : state) benchmark::DoNotOptimize(net.features(x));
  state.counters["images/s"] = benchmark::Counter(double(batch) * state.iterations(), benchmark::Counter::kIsRate);
}

void BM_ClipViTB16(benchmark::State& state) {
  const models::ClipVitConfig c = models::clip_vit_config("ViT-B/16");
  const models::ClipViT vit(c, models::ClipWeights(models::random_clip_vit_weights(c, 1), "ViT-B/16"));
  const int64_t batch = state.range(0);
  Tensor x = images(batch, c.image_resolution);
  vit.features(x);
  for (auto _ : state) benchmark::DoNotOptimize(vit.features(x));
  state.counters["images/s"] = benchmark::Counter(double(batch) * state.iterations(), benchmark::Counter::kIsRate);
}

BENCHMARK_CAPTURE(BM_ClipResNet, RN50, "RN50")->Arg(8)->Unit(benchmark::kSecond)->UseRealTime()->MinTime(5);
BENCHMARK_CAPTURE(BM_ClipResNet, RN50x64, "RN50x64")->Arg(2)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(2);
BENCHMARK(BM_ClipViTB16)->Arg(8)->Unit(benchmark::kSecond)->UseRealTime()->MinTime(5);

}  // namespace
}  // namespace mapet::bench

int main(int argc, char** argv) {
  mapet::init_threads_from_env();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
