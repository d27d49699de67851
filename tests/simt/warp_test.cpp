// Warp collectives: every shuffle form and width against CUDA's documented
// semantics, votes, reductions, __syncwarp, and the mask bugs.
#include <cuda_bf16.h>

#include <vector>

#include "tests/simt/simt_test.h"

namespace {

enum Form { kIdx, kUp, kDown, kXor };

// The CUDA Programming Guide's description, written independently of the
// runtime's PTX-based implementation.
int reference_source(Form form, int lane, int arg, int width) {
  const int base = lane / width * width;
  switch (form) {
    case kIdx: return base + (arg & (width - 1));
    case kUp: return lane - base < arg ? lane : lane - arg;
    case kDown: return lane - base + arg >= width ? lane : lane + arg;
    case kXor: {
      const int src = lane ^ arg;
      return src >= base + width ? lane : src;  // later groups: own value
    }
  }
  return -1;
}

__global__ void shuffle_all(int form, int arg, int width, int* out) {
  const int v = 1000 + static_cast<int>(threadIdx.x);
  int r = 0;
  switch (form) {
    case kIdx: r = __shfl_sync(0xffffffffu, v, arg, width); break;
    case kUp: r = __shfl_up_sync(0xffffffffu, v, static_cast<unsigned>(arg), width); break;
    case kDown: r = __shfl_down_sync(0xffffffffu, v, static_cast<unsigned>(arg), width); break;
    case kXor: r = __shfl_xor_sync(0xffffffffu, v, arg, width); break;
  }
  out[threadIdx.x] = r;
}

TEST(SimtWarp, EveryShuffleFormAndWidth) {
  std::vector<int> out(64);
  for (int form : {kIdx, kUp, kDown, kXor})
    for (int width : {32, 16, 8, 4, 2, 1})
      for (int arg : {0, 1, 2, 3, 5, 7, 13, 16, 31, 33}) {
        if (form != kIdx && arg > 31) continue;  // only srcLane is documented modulo width
        MAPET_LAUNCH(shuffle_all, 1, 64, 0, nullptr, form, arg, width, out.data());
        for (int t = 0; t < 64; ++t) {
          const int lane = t % 32, warp_base = t / 32 * 32;
          ASSERT_EQ(out[t], 1000 + warp_base + reference_source(Form(form), lane, arg, width))
              << "form " << form << " width " << width << " arg " << arg << " thread " << t;
        }
      }
}

__global__ void shuffle_types(const double* d, const __nv_bfloat16* h, const long long* q, double* d_out,
                              __nv_bfloat16* h_out, long long* q_out) {
  const int t = threadIdx.x;
  d_out[t] = __shfl_xor_sync(0xffffffffu, d[t], 3);
  h_out[t] = __shfl_sync(0xffffffffu, h[t], 31 - t);
  q_out[t] = __shfl_down_sync(0xffffffffu, q[t], 4);
}

TEST(SimtWarp, ShufflesMoveEightBytesAndBf16) {
  std::vector<double> d(32), d_out(32);
  std::vector<__nv_bfloat16> h(32), h_out(32);
  std::vector<long long> q(32), q_out(32);
  for (int i = 0; i < 32; ++i) {
    d[i] = 1.0 / (i + 3);
    h[i] = __float2bfloat16(0.1f * i);
    q[i] = (1ll << 40) * i + i;
  }
  MAPET_LAUNCH(shuffle_types, 1, 32, 0, nullptr, d.data(), h.data(), q.data(), d_out.data(), h_out.data(),
               q_out.data());
  for (int i = 0; i < 32; ++i) {
    EXPECT_EQ(d_out[i], d[i ^ 3]);
    EXPECT_EQ(__bfloat16_as_ushort(h_out[i]), __bfloat16_as_ushort(h[31 - i]));
    EXPECT_EQ(q_out[i], i + 4 < 32 ? q[i + 4] : q[i]);
  }
}

// Two halves of a warp exchange independently with their own masks.
__global__ void half_warps(int* out) {
  const unsigned lane = threadIdx.x % 32;
  const unsigned mask = lane < 16 ? 0x0000ffffu : 0xffff0000u;
  int v = static_cast<int>(threadIdx.x);
  if (lane < 16) {
    v = __shfl_xor_sync(mask, v, 1);
  } else {
    v = __shfl_sync(mask, v, 16 + 15 - (lane - 16));
    v = __shfl_down_sync(mask, v, 1, 16);
  }
  out[threadIdx.x] = v;
}

TEST(SimtWarp, PartialMasksAreSeparateMeetingPoints) {
  std::vector<int> out(32);
  MAPET_LAUNCH(half_warps, 1, 32, 0, nullptr, out.data());
  for (int l = 0; l < 16; ++l) EXPECT_EQ(out[l], l ^ 1);
  for (int l = 16; l < 32; ++l) {
    const int after_down = l + 1 < 32 ? l + 1 : l;  // then the reversal within lanes 16-31
    EXPECT_EQ(out[l], 16 + 15 - (after_down - 16));
  }
}

__global__ void votes(const int* pred, unsigned* out) {
  const int t = threadIdx.x, lane = t % 32;
  const unsigned mask = lane % 2 ? 0xaaaaaaaau : 0x55555555u;  // odd and even lanes separately
  out[8 * t + 0] = __ballot_sync(0xffffffffu, pred[t]);
  out[8 * t + 1] = static_cast<unsigned>(__any_sync(0xffffffffu, pred[t]));
  out[8 * t + 2] = static_cast<unsigned>(__all_sync(0xffffffffu, pred[t]));
  out[8 * t + 3] = __ballot_sync(mask, pred[t]);
  out[8 * t + 4] = static_cast<unsigned>(__all_sync(mask, pred[t]));
  __syncwarp();
  out[8 * t + 5] = __reduce_add_sync(0xffffffffu, static_cast<unsigned>(pred[t]));
  out[8 * t + 6] = static_cast<unsigned>(__reduce_min_sync(mask, pred[t] - 5));
  out[8 * t + 7] = __reduce_xor_sync(0xffffffffu, static_cast<unsigned>(t * 7));
}

TEST(SimtWarp, VotesAndReductions) {
  std::vector<int> pred(64);
  std::vector<unsigned> out(8 * 64);
  for (int i = 0; i < 64; ++i) pred[i] = i < 32 ? (i % 3 == 0 ? i : 0) : 1;
  MAPET_LAUNCH(votes, 1, 64, 0, nullptr, pred.data(), out.data());
  for (int t = 0; t < 64; ++t) {
    const int w = t / 32 * 32, lane = t % 32;
    const unsigned mask = lane % 2 ? 0xaaaaaaaau : 0x55555555u;
    unsigned ballot = 0, sum = 0, x = 0;
    int mn = 1 << 30;
    for (int l = 0; l < 32; ++l) {
      if (pred[w + l]) ballot |= 1u << l;
      sum += static_cast<unsigned>(pred[w + l]);
      x ^= static_cast<unsigned>((w + l) * 7);
      if (mask >> l & 1) mn = std::min(mn, pred[w + l] - 5);
    }
    EXPECT_EQ(out[8 * t + 0], ballot);
    EXPECT_EQ(out[8 * t + 1], ballot != 0 ? 1u : 0u);
    EXPECT_EQ(out[8 * t + 2], ballot == 0xffffffffu ? 1u : 0u);
    EXPECT_EQ(out[8 * t + 3], ballot & mask);
    EXPECT_EQ(out[8 * t + 4], (ballot & mask) == mask ? 1u : 0u);
    EXPECT_EQ(out[8 * t + 5], sum);
    EXPECT_EQ(static_cast<int>(out[8 * t + 6]), mn);
    EXPECT_EQ(out[8 * t + 7], x);
  }
}

// ---- the bugs -----------------------------------------------------------

__global__ void mask_without_self(int* out) {
  // Lane 3 names only lanes 0-2: the mask must include the caller.
  const unsigned mask = threadIdx.x == 3 ? 0x7u : 0xffffffffu;
  out[threadIdx.x] = __shfl_sync(mask, static_cast<int>(threadIdx.x), 0);
}

TEST(SimtWarp, MaskMustIncludeTheCaller) {
  std::vector<int> out(32);
  expect_kernel_error([&] { MAPET_LAUNCH(mask_without_self, 1, 32, 0, nullptr, out.data()); },
                      {"kernel 'mask_without_self'", "thread (3,0,0)", "lane 3", "__shfl_sync at warp_test.cpp:",
                       "0x00000007", "does not include the calling lane"});
}

__global__ void masks_disagree(int* out) {
  // Lanes 0-15 think the whole warp takes part; lanes 16-31 think only they do.
  const unsigned mask = threadIdx.x < 16 ? 0xffffffffu : 0xffff0000u;
  out[threadIdx.x] = __shfl_xor_sync(mask, static_cast<int>(threadIdx.x), 1);
}

TEST(SimtWarp, DisagreeingMasksAreAnError) {
  std::vector<int> out(32);
  for (auto order : {mapet::simt::Order::forward, mapet::simt::Order::reverse, mapet::simt::Order::random}) {
    mapet::simt::ScopedThreadOrder o(order, 3);
    // Forward order meets the disagreement head on; in other orders lanes 16-31 may complete their
    // half-warp exchange first and then exit while lanes 0-15 still name them: an error either way.
    const std::string msg =
        expect_kernel_error([&] { MAPET_LAUNCH(masks_disagree, 1, 32, 0, nullptr, out.data()); },
                            {"kernel 'masks_disagree'", "block (0,0,0)", "__shfl_xor_sync", "0xffffffff"});
    if (order == mapet::simt::Order::forward) {
      EXPECT_NE(msg.find("warp masks disagree"), std::string::npos) << msg;
    }
  }
}

__global__ void lane_exits(int* out) {
  if (threadIdx.x == 7) return;  // lane 7 leaves, yet the others name it
  out[threadIdx.x] = __shfl_down_sync(0xffffffffu, static_cast<int>(threadIdx.x), 1);
}

TEST(SimtWarp, NamedLaneThatExitsIsAnError) {
  std::vector<int> out(32);
  for (auto order : {mapet::simt::Order::forward, mapet::simt::Order::reverse}) {
    mapet::simt::ScopedThreadOrder o(order);
    expect_kernel_error([&] { MAPET_LAUNCH(lane_exits, 1, 32, 0, nullptr, out.data()); },
                        {"kernel 'lane_exits'", "__shfl_down_sync", "exited"});
  }
}

__global__ void partial_warp_full_mask(int* out) {
  out[threadIdx.x] = __reduce_add_sync(0xffffffffu, 1u);
}

TEST(SimtWarp, MaskNamingLanesTheBlockLacks) {
  std::vector<int> out(48);
  expect_kernel_error([&] { MAPET_LAUNCH(partial_warp_full_mask, 1, 48, 0, nullptr, out.data()); },
                      {"kernel 'partial_warp_full_mask'", "warp 1", "0xffff0000", "do not exist", "48 threads"});
}

__global__ void reads_outside_mask(int* out) {
  const int lane = threadIdx.x % 32;
  if (lane < 16) out[lane] = __shfl_sync(0x0000ffffu, lane, lane + 16);  // source lane not in the mask
}

TEST(SimtWarp, ReadingALaneOutsideTheMask) {
  std::vector<int> out(32);
  expect_kernel_error([&] { MAPET_LAUNCH(reads_outside_mask, 1, 32, 0, nullptr, out.data()); },
                      {"kernel 'reads_outside_mask'", "thread (0,0,0)", "reads lane 16", "does not name"});
}

__global__ void different_collectives(int* out) {
  int v = static_cast<int>(threadIdx.x);
  if (threadIdx.x % 2) {
    v = __shfl_xor_sync(0xffffffffu, v, 2);
  } else {
    v = __shfl_xor_sync(0xffffffffu, v, 4);
  }
  out[threadIdx.x] = v;
}

TEST(SimtWarp, LanesOfOneMaskAtDifferentCalls) {
  std::vector<int> out(32);
  expect_kernel_error([&] { MAPET_LAUNCH(different_collectives, 1, 32, 0, nullptr, out.data()); },
                      {"kernel 'different_collectives'", "different warp collectives"});
}

__global__ void bad_width(int* out) { out[threadIdx.x] = __shfl_sync(0xffffffffu, 1, 0, 12); }

TEST(SimtWarp, WidthMustBeAPowerOfTwo) {
  std::vector<int> out(32);
  expect_kernel_error([&] { MAPET_LAUNCH(bad_width, 1, 32, 0, nullptr, out.data()); }, {"width 12"});
}

}  // namespace
