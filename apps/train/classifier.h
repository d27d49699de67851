// What the classifier commands (validate, finetune) share: top-1 / top-5 /
// loss over a labelled set, and the weights of a checkpoint that a classifier
// can use. (The split-folder rule is data/splits.h, shared by every command.)
#pragma once
#include <cstdint>
#include <string>

#include "data/loader.h"
#include "engine/io/safetensors.h"
#include "models/vit.h"

namespace mapet::apps::train {

// Running sums over an evaluation set.
struct ClassifierMeter {
  int64_t n = 0, top1 = 0, top5 = 0;
  double loss = 0, seconds = 0;
  // logits [B, C] f32, labels i64 [B]: cross-entropy in float64; a sample counts in top-k when fewer than k
  // classes score strictly higher than its label.
  void add(const Tensor& logits, const Tensor& labels);
  double pct(int64_t k) const { return n ? 100.0 * double(k) / double(n) : 0.0; }
  double mean_loss() const { return n ? loss / double(n) : 0.0; }
};

// One pass over the loader's epoch 0 without gradients. Progress lines every
// log_freq batches under `label` (none when log_freq <= 0).
ClassifierMeter evaluate(const models::VisionTransformer& model, data::Loader& loader, int log_freq,
                         const std::string& label = "Test");

// Names that only the pre-training model has (decoder.*, mask tokens).
bool pretraining_only(const std::string& name);

// The tensors of a checkpoint (safetensors, torch.save, or our training
// checkpoint) without the pre-training-only ones; what was unwrapped or
// dropped is printed as "note: ..." lines.
io::TensorMap classifier_weights(const std::string& path, bool use_ema = false);

}  // namespace mapet::apps::train
