// Every op of the engine. Op X lives in engine/ops/X.{h,cpp}, which picks its
// backend (engine/backend.h); its kernels are kernels/cpu/X and kernels/cuda/X,
// the math both share kernels/common/X.h, its test tests/ops/X_test.cpp.
// linear and attention run on the GEMM kernel (kernels/cpu/gemm);
// conv2d (the CLIP feature extractors) and assign (the tokenizers) are forward-only.
#pragma once
#include "engine/ops/assign.h"
#include "engine/ops/attention.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/cross_entropy.h"
#include "engine/ops/dropout.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/gelu.h"
#include "engine/ops/interval_attention.h"
#include "engine/ops/layernorm.h"
#include "engine/ops/linear.h"
#include "engine/ops/patch_embed.h"
#include "engine/ops/reduce.h"
#include "engine/ops/residual.h"
#include "engine/ops/shape.h"
#include "engine/ops/softmax.h"
