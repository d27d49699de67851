// Row softmax (last dimension) and its backward.
#pragma once
#include <cstdint>

namespace mapet::cpu {

// y = softmax(scale * x) per row of `cols` values. y may alias x.
void softmax_forward(const float* x, float* y, int64_t rows, int64_t cols, float scale = 1.0f);

// dx = scale * y * (dy - sum(dy * y)) per row. dx may alias dy.
void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols, float scale = 1.0f);

// log-sum-exp and the max-shifted pieces, for one row (used by cross-entropy).
float row_logsumexp(const float* x, int64_t cols);

}  // namespace mapet::cpu

namespace mapet::cpu {

// Row softmax where mask[j] == 0 blocks column j (mask may be null). A row with
// every column blocked gives all zeros. In place.
void softmax_masked_inplace(float* x, const uint8_t* mask, int64_t cols);

}  // namespace mapet::cpu
