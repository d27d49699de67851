// mapet train-classifier: trains a small ViT classifier on Debian's
// Fashion-MNIST from scratch on the CPU and reports validation accuracy.
// It is the engine's first end-to-end check on real images.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "apps/commands.h"
#include "apps/progress.h"
#include "apps/train/device.h"
#include "data/fashion_mnist.h"
#include "engine/cuda/runtime.h"
#include "engine/io/safetensors.h"
#include "engine/ops/cross_entropy.h"
#include "engine/optim/adamw.h"
#include "engine/optim/schedule.h"
#include "engine/threads.h"
#include "engine/precision.h"
#include "models/vit.h"

namespace mapet::apps {

namespace {

struct TrainArgs {
  std::string output = "runs/fashion-mnist-vit";
  int64_t epochs = 1, batch_size = 64, train_limit = 0, val_limit = 0;
  int64_t dim = 96, depth = 6, heads = 3, patch = 4, warmup_steps = 100;
  float lr = 2e-3f, weight_decay = 0.05f, clip_grad = 1.0f, drop_path = 0.0f, smoothing = 0.1f;
  uint64_t seed = 0;
  bool amp = false;
  train::DeviceFlag device;
};

constexpr float kMean = 0.2860f, kStd = 0.3530f;  // Fashion-MNIST pixel statistics

// Normalised images [n, 1, 28, 28] and labels for items order[begin, begin + n).
void make_batch(const data::FashionMnist& d, const std::vector<int64_t>& order, int64_t begin, int64_t n,
                Tensor& images, Tensor& labels) {
  const int64_t px = d.rows * d.cols;
  images = Tensor::empty({n, 1, d.rows, d.cols});
  labels = Tensor::empty({n}, DType::i64);
  float* ip = images.data<float>();
  int64_t* lp = labels.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t k = order[begin + i];
    const uint8_t* src = d.images.data() + k * px;
    for (int64_t j = 0; j < px; ++j) ip[i * px + j] = (src[j] / 255.0f - kMean) / kStd;
    lp[i] = d.labels[k];
  }
}

std::vector<int64_t> shuffled(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  Generator g(seed);
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[g.randint(static_cast<uint64_t>(i + 1))]);
  return order;
}

double evaluate(models::VisionTransformer& model, const data::FashionMnist& val, int64_t limit, int64_t batch) {
  autograd::NoGradGuard no_grad;
  model.train(false);
  nn::Context ctx;
  int64_t n = limit > 0 ? std::min(limit, val.count) : val.count, correct = 0;
  std::vector<int64_t> order(val.count);
  std::iota(order.begin(), order.end(), 0);
  for (int64_t b = 0; b < n; b += batch) {
    int64_t m = std::min(batch, n - b);
    Tensor images, labels;
    make_batch(val, order, b, m, images, labels);
    const Tensor logits = model.forward(Var(images.to(model.device())), ctx).value().to(Device::cpu);
    const float* lp = logits.data<float>();
    for (int64_t i = 0; i < m; ++i) {
      int64_t best = 0;
      for (int64_t c = 1; c < 10; ++c)
        if (lp[i * 10 + c] > lp[i * 10 + best]) best = c;
      correct += best == labels.data<int64_t>()[i];
    }
  }
  model.train(true);
  return static_cast<double>(correct) / static_cast<double>(n);
}

void run(const TrainArgs& a) {
  const train::DeviceChoice dev = a.device.resolve();
  if (const AmpChoice amp = configure_amp(a.amp); !amp.note.empty()) std::printf("note: %s\n", amp.note.c_str());
  std::filesystem::create_directories(a.output);
  data::FashionMnist train = data::load_fashion_mnist("train"), val = data::load_fashion_mnist("val");
  const int64_t n_train = a.train_limit > 0 ? std::min(a.train_limit, train.count) : train.count;

  models::VitConfig c;
  c.img_size = train.rows, c.patch_size = a.patch, c.in_chans = 1, c.num_classes = 10;
  c.embed_dim = a.dim, c.depth = a.depth, c.num_heads = a.heads;
  c.drop_path_rate = a.drop_path, c.global_pool = "avg";
  models::VisionTransformer model(c);
  model.init_weights(a.seed);
  model.to(dev.device);  // initialised on the CPU (the same weights on every device), then moved
  std::printf("ViT %lldx%lld, patch %lld, dim %lld, depth %lld, heads %lld: %.2fM parameters; %lld threads%s\n",
              (long long)c.img_size, (long long)c.img_size, (long long)c.patch_size, (long long)c.embed_dim,
              (long long)c.depth, (long long)c.num_heads, model.num_parameters() / 1e6, (long long)num_threads(),
              a.amp ? ", bf16 GEMMs (--amp)" : "");
  std::printf("Fashion-MNIST: %lld training images, %lld validation images\n", (long long)n_train,
              (long long)val.count);
  if (!dev.on_cpu()) std::printf("device: %s, %s\n", dev.name.c_str(), device::describe().c_str());

  optim::AdamWConfig oc;
  oc.lr = a.lr, oc.weight_decay = a.weight_decay;
  optim::AdamW opt(model.named_parameters(), oc);
  const int64_t steps_per_epoch = n_train / a.batch_size;
  optim::CosineSchedule sched;
  sched.base_lr = a.lr, sched.min_lr = a.lr * 0.01f, sched.warmup_lr = a.lr * 0.01f;
  sched.warmup_steps = a.warmup_steps, sched.total_steps = steps_per_epoch * a.epochs;

  std::ofstream metrics(a.output + "/metrics.jsonl");
  Generator drop_rng(a.seed + 1);
  nn::Context ctx{&drop_rng};
  Progress progress("train", sched.total_steps);
  int64_t step = 0;
  double loss_sum = 0;
  for (int64_t epoch = 0; epoch < a.epochs; ++epoch) {
    std::vector<int64_t> order = shuffled(n_train, a.seed * 1000003 + epoch);
    for (int64_t s = 0; s < steps_per_epoch; ++s, ++step) {
      Tensor images, labels;
      make_batch(train, order, s * a.batch_size, a.batch_size, images, labels);
      images = images.to(dev.device), labels = labels.to(dev.device);
      float lr = sched.lr_at(step);
      opt.zero_grad();
      Var loss = ops::cross_entropy(model.forward(Var(images), ctx), labels, a.smoothing);
      float lv = loss.value().item();
      if (!std::isfinite(lv))
        throw Error("loss is " + std::to_string(lv) + " at step " + std::to_string(step) +
                    "; stopping (try a lower --lr)");
      autograd::backward(loss);
      double gnorm = optim::clip_grad_norm(model.named_parameters(), a.clip_grad);
      opt.step(lr);
      loss_sum += lv;
      metrics << "{\"step\": " << step << ", \"epoch\": " << epoch << ", \"loss\": " << lv << ", \"lr\": " << lr
              << ", \"grad_norm\": " << gnorm << "}\n";
      char extra[96];
      std::snprintf(extra, sizeof extra, "epoch %lld | loss %.4f (mean %.4f) | lr %.2e", (long long)epoch, lv,
                    loss_sum / (step + 1), lr);
      const std::string on = train::device_field(dev.device);
      progress.update(step + 1, (step + 1) * a.batch_size, on.empty() ? extra : std::string(extra) + " | " + on);
    }
    progress.finish();
    double acc = evaluate(model, val, a.val_limit, 256);
    std::printf("epoch %lld: validation accuracy %.2f%% (chance: 10%%)\n", (long long)epoch, 100.0 * acc);
    metrics << "{\"epoch\": " << epoch << ", \"val_top1\": " << 100.0 * acc << "}\n";
    metrics.flush();
  }
  io::save_safetensors(a.output + "/model.safetensors", io::state_dict(model));
  std::printf("wrote %s/model.safetensors and %s/metrics.jsonl (%.0f s)\n", a.output.c_str(), a.output.c_str(),
              progress.elapsed());
  if (!dev.on_cpu()) std::printf("%s\n", train::memory_summary(dev.device).c_str());  // the CPU prints as before
}

}  // namespace

void register_train_classifier(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* c = app.add_subcommand("train-classifier", "Train a small ViT classifier on Fashion-MNIST from scratch");
  c->add_option("--output", a->output, "Run folder");
  c->add_option("--epochs", a->epochs);
  c->add_option("-b,--batch-size", a->batch_size);
  c->add_option("--lr", a->lr);
  c->add_option("--weight-decay", a->weight_decay);
  c->add_option("--warmup-steps", a->warmup_steps);
  c->add_option("--clip-grad", a->clip_grad);
  c->add_option("--drop-path", a->drop_path);
  c->add_option("--smoothing", a->smoothing, "Label smoothing");
  c->add_option("--dim", a->dim);
  c->add_option("--depth", a->depth);
  c->add_option("--heads", a->heads);
  c->add_option("--patch-size", a->patch);
  c->add_option("--train-limit", a->train_limit, "Use only the first N training images (0: all)");
  c->add_option("--val-limit", a->val_limit, "Use only the first N validation images (0: all)");
  c->add_option("--seed", a->seed);
  c->add_flag("--amp", a->amp, "bf16 GEMMs (AVX-512 BF16)");
  a->device.add_to(c);
  c->callback([a] { run(*a); });
}

}  // namespace mapet::apps
