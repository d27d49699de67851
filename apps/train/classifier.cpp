#include "apps/train/classifier.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "apps/progress.h"
#include "apps/train/device.h"
#include "engine/io/state_dict.h"

namespace mapet::apps::train {

void ClassifierMeter::add(const Tensor& device_logits, const Tensor& device_labels) {
  const Tensor logits = device_logits.to(Device::cpu).contiguous(), labels = device_labels.to(Device::cpu);
  const int64_t B = logits.size(0), C = logits.size(1);
  const float* x = logits.data<float>();
  for (int64_t i = 0; i < B; ++i, x += C) {
    const int64_t y = labels.data<int64_t>()[i];
    if (y < 0 || y >= C)
      throw Error("label " + std::to_string(y) + " is outside the " + std::to_string(C) + " classes of the model's head");
    double m = x[0], s = 0;
    for (int64_t c = 1; c < C; ++c) m = std::max(m, double(x[c]));
    for (int64_t c = 0; c < C; ++c) s += std::exp(double(x[c]) - m);
    int64_t above = 0;
    for (int64_t c = 0; c < C; ++c) above += x[c] > x[y];
    loss += m + std::log(s) - x[y];
    top1 += above < 1, top5 += above < 5, ++n;
  }
}

ClassifierMeter evaluate(const models::VisionTransformer& model, data::Loader& loader, int log_freq,
                         const std::string& label) {
  autograd::NoGradGuard no_grad;
  nn::Context ctx;
  ClassifierMeter meter;
  const bool show = log_freq > 0;
  Progress progress(label, loader.batches_per_epoch(), std::max(1, log_freq));
  loader.start_epoch(0);
  data::Batch b;
  const Device dev = model.device();  // the batches go where the model is; the scores come back to the CPU
  for (int64_t step = 1; loader.next(b); ++step) {
    meter.add(model.forward(Var(b.images.to(dev)), ctx).value(), b.labels);
    if (!show) continue;
    char extra[128];
    std::snprintf(extra, sizeof extra, "Loss %.4f | Acc@1 %.3f | Acc@5 %.3f", meter.mean_loss(), meter.pct(meter.top1),
                  meter.pct(meter.top5));
    const std::string on = device_field(dev);
    progress.update(step, meter.n, on.empty() ? extra : std::string(extra) + " | " + on);
  }
  if (show) progress.finish();
  meter.seconds = progress.elapsed();
  return meter;
}

bool pretraining_only(const std::string& name) {
  return name.rfind("decoder.", 0) == 0 || name == "mask_token" || name == "mask_positional_token";
}

io::TensorMap classifier_weights(const std::string& path, bool use_ema) {
  io::LoadedWeights w = io::load_weights(path, use_ema);
  for (const std::string& n : w.notes) std::printf("note: %s\n", n.c_str());
  for (const std::string& n : w.warnings) std::fprintf(stderr, "mapet: WARNING: %s\n", n.c_str());
  std::vector<std::string> dropped;
  for (auto it = w.tensors.begin(); it != w.tensors.end();)
    if (pretraining_only(it->first)) {
      dropped.push_back(it->first);
      it = w.tensors.erase(it);
    } else {
      ++it;
    }
  if (!dropped.empty())
    std::printf("note: dropped %zu pre-training tensors not used for classification (%s%s)\n", dropped.size(),
                dropped.front().c_str(), dropped.size() > 1 ? ", ..." : "");
  return std::move(w.tensors);
}

}  // namespace mapet::apps::train
