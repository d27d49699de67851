// Every differentiable op of the engine. Each lives in engine/ops/<name>.cpp
// beside its CPU kernel kernels/cpu/<name>.cpp and its test tests/ops/<name>_test.cpp.
#pragma once
#include "engine/ops/activation.h"
#include "engine/ops/attention.h"
#include "engine/ops/dropout.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/interval_attention.h"
#include "engine/ops/layernorm.h"
#include "engine/ops/linear.h"
#include "engine/ops/loss.h"
#include "engine/ops/patch_embed.h"
#include "engine/ops/reduce.h"
#include "engine/ops/residual.h"
#include "engine/ops/shape.h"
