// The MaPeT pre-training model (DESIGN.md, "MaPeT"): a ViT whose blocks run a
// content stream and a query stream with shared weights, plus the baselines the
// paper compares against in the same model: PeT (XLNet-style, no mask tokens
// in the content stream) and MIM (BEiT-style masked image modelling).
//
// Both streams travel as one sequence [content real (T) | content mask (M) |
// query (M)] in permutation order, so every per-row layer (norms, projections,
// MLP) runs once on all rows, and one interval-masked attention serves both.
#pragma once
#include <string>

#include "engine/ops/interval_attention.h"
#include "models/vit.h"

namespace mapet::models {

struct MapetConfig {
  VitConfig vit;  // num_classes is ignored (the head is `decoder`)
  common::Objective objective = common::Objective::mapet;
  int64_t least_number = 50;   // L, CLS included
  int64_t vocab_size = 8192;   // visual tokens
  int64_t mim_mask_count = 75; // patches masked per image for `mim`
};

// The batch arrives on the model's device (apps move it with .to()); forward
// reads its integers on the host and places every index tensor it builds from
// them on the model's device.
struct MapetBatch {
  Tensor images;  // f32 [B, C, H, W], normalised
  Tensor tokens;  // i64 [B, P]: the visual token of each patch, natural order
  Tensor perm;    // i64 [B, P]: patch indices in prediction order (mapet, pet)
  Tensor mask;    // u8 [B, P]: 1 = masked (mim); the same count in every sample
};

struct MapetOutput {
  Var loss;            // mean cross-entropy over predicted tokens
  Var logits;          // [B * M, V]: per sample, predicted tokens in prediction order (mim: patch order)
  Tensor targets;      // i64 [B * M], on the model's device
  Tensor patch_index;  // i64 [B * M]: which patch each row predicts, on the model's device
  int64_t per_sample = 0;  // M
  double token_accuracy = 0.0;
};

class MapetModel : public VisionTransformer {
 public:
  explicit MapetModel(const MapetConfig& c);
  MapetOutput forward(const MapetBatch& batch, nn::Context& ctx) const;

  MapetConfig mapet_config;
  Var mask_token;  // mask_positional_token (mapet, pet) or mask_token (mim)
  nn::Linear* decoder = nullptr;

 private:
  MapetOutput forward_permuted(const MapetBatch& batch, nn::Context& ctx) const;
  MapetOutput forward_mim(const MapetBatch& batch, nn::Context& ctx) const;
  MapetOutput finish(const Var& predicted, Tensor targets, Tensor patch_index, int64_t per_sample) const;
};

// mapet_{tiny,small,base}_patch16_224: ViT widths, layer scale 0.1, drop path 0.1.
MapetConfig mapet_config(const std::string& name);
bool is_mapet_name(const std::string& name);
common::Objective parse_objective(const std::string& s);

}  // namespace mapet::models
