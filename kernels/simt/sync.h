// __syncthreads and the warp collectives, as kernels call them under g++.
//
// Each takes a trailing std::source_location (defaulted, so call sites look
// like CUDA): it names the call in errors, and tells the scheduler whether two
// threads wait at the same barrier. Warp collectives follow the PTX ISA's
// shfl.sync / vote.sync / redux.sync semantics; a lane may only take part if
// the mask names it, every lane named must arrive at the same call, and a
// lane may only read from lanes in the mask — anything else is an error.
#pragma once
#include <cstring>
#include <source_location>
#include <type_traits>

#include "kernels/simt/block.h"

namespace mapet::simt::detail {

template <class T>
uint64_t to_bits(const T& v) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "warp shuffles move values of at most 8 bytes");
  uint64_t u = 0;
  std::memcpy(&u, &v, sizeof(T));
  return u;
}

template <class T>
T from_bits(uint64_t u) {
  T v;
  std::memcpy(static_cast<void*>(&v), &u, sizeof(T));
  return v;
}

enum class ShflMode { idx, up, down, bfly };

// shfl.sync as the PTX ISA specifies it: c = ((32 - width) << 8) | clamp, the
// segment mask picks the width-sized group, a source outside the group (or
// below lane 0) yields the lane's own value.
template <ShflMode Mode>
void shfl_complete(WarpRequest* const* lanes, uint32_t mask) {
  for (uint32_t rest = mask; rest; rest &= rest - 1) {
    const int lane = __builtin_ctz(rest);
    WarpRequest& r = *lanes[lane];
    const int width = r.width;
    if (width < 1 || width > 32 || (width & (width - 1)) != 0) {
      throw WarpFault{static_cast<uint32_t>(lane), "width " + std::to_string(width) + " is not a power of 2 in [1, 32]"};
    }
    const int segmask = 32 - width;
    const int clamp = Mode == ShflMode::up ? 0 : 31;
    const int max_lane = (lane & segmask) | (clamp & ~segmask);
    const int min_lane = lane & segmask;
    const int b = r.arg & 31;
    int j = lane;
    bool in_range = true;
    switch (Mode) {
      case ShflMode::up: j = lane - b; in_range = j >= max_lane; break;
      case ShflMode::down: j = lane + b; in_range = j <= max_lane; break;
      case ShflMode::bfly: j = lane ^ b; in_range = j <= max_lane; break;
      case ShflMode::idx: j = min_lane | (b & ~segmask); in_range = j <= max_lane; break;
    }
    if (!in_range) j = lane;
    if (!(mask >> j & 1)) {
      throw WarpFault{static_cast<uint32_t>(lane), "lane " + std::to_string(lane) + " reads lane " + std::to_string(j) +
                                                       ", which the mask " + hex32(mask) + " does not name"};
    }
    r.result = lanes[j]->value;
  }
}

inline void ballot_complete(WarpRequest* const* lanes, uint32_t mask) {
  uint32_t bits = 0;
  for (uint32_t rest = mask; rest; rest &= rest - 1)
    if (lanes[__builtin_ctz(rest)]->value) bits |= 1u << __builtin_ctz(rest);
  for (uint32_t rest = mask; rest; rest &= rest - 1) lanes[__builtin_ctz(rest)]->result = bits;
}

inline void syncwarp_complete(WarpRequest* const*, uint32_t) {}

enum class Reduce { add, min_u, max_u, min_i, max_i, and_, or_, xor_ };

template <Reduce Op>
void reduce_complete(WarpRequest* const* lanes, uint32_t mask) {
  uint32_t acc = static_cast<uint32_t>(lanes[__builtin_ctz(mask)]->value);
  for (uint32_t rest = mask & (mask - 1); rest; rest &= rest - 1) {
    const uint32_t v = static_cast<uint32_t>(lanes[__builtin_ctz(rest)]->value);
    switch (Op) {
      case Reduce::add: acc += v; break;
      case Reduce::min_u: acc = v < acc ? v : acc; break;
      case Reduce::max_u: acc = v > acc ? v : acc; break;
      case Reduce::min_i: acc = int32_t(v) < int32_t(acc) ? v : acc; break;
      case Reduce::max_i: acc = int32_t(v) > int32_t(acc) ? v : acc; break;
      case Reduce::and_: acc &= v; break;
      case Reduce::or_: acc |= v; break;
      case Reduce::xor_: acc ^= v; break;
    }
  }
  for (uint32_t rest = mask; rest; rest &= rest - 1) lanes[__builtin_ctz(rest)]->result = acc;
}

template <ShflMode Mode, class T>
T shfl(const char* name, unsigned mask, const T& var, int arg, int width, const std::source_location& site) {
  WarpRequest r;
  r.fn = &shfl_complete<Mode>;
  r.name = name;
  r.mask = mask;
  r.value = to_bits(var);
  r.arg = arg;
  r.width = width;
  warp_collective(r, site);
  return from_bits<T>(r.result);
}

inline uint64_t vote(WarpFn fn, const char* name, unsigned mask, uint64_t value, const std::source_location& site) {
  WarpRequest r;
  r.fn = fn;
  r.name = name;
  r.mask = mask;
  r.value = value;
  warp_collective(r, site);
  return r.result;
}

}  // namespace mapet::simt::detail

// ---- CUDA's names, global namespace as in CUDA ----------------------------

using mapet_simt_site = std::source_location;  // short name for the defaulted parameters below
#define MAPET_SIMT_HERE mapet_simt_site loc = mapet_simt_site::current()

inline void __syncthreads(MAPET_SIMT_HERE) { mapet::simt::detail::barrier(0, 1, loc); }
inline int __syncthreads_count(int pred, MAPET_SIMT_HERE) { return mapet::simt::detail::barrier(1, pred, loc); }
inline int __syncthreads_and(int pred, MAPET_SIMT_HERE) { return mapet::simt::detail::barrier(2, pred, loc); }
inline int __syncthreads_or(int pred, MAPET_SIMT_HERE) { return mapet::simt::detail::barrier(3, pred, loc); }

template <class T>
T __shfl_sync(unsigned mask, T var, int srcLane, int width = 32, MAPET_SIMT_HERE) {
  return mapet::simt::detail::shfl<mapet::simt::detail::ShflMode::idx>("__shfl_sync", mask, var, srcLane, width, loc);
}
template <class T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = 32, MAPET_SIMT_HERE) {
  return mapet::simt::detail::shfl<mapet::simt::detail::ShflMode::up>("__shfl_up_sync", mask, var, int(delta), width,
                                                                      loc);
}
template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32, MAPET_SIMT_HERE) {
  return mapet::simt::detail::shfl<mapet::simt::detail::ShflMode::down>("__shfl_down_sync", mask, var, int(delta),
                                                                        width, loc);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T var, int laneMask, int width = 32, MAPET_SIMT_HERE) {
  return mapet::simt::detail::shfl<mapet::simt::detail::ShflMode::bfly>("__shfl_xor_sync", mask, var, laneMask, width,
                                                                        loc);
}

inline unsigned __ballot_sync(unsigned mask, int pred, MAPET_SIMT_HERE) {
  return static_cast<unsigned>(
      mapet::simt::detail::vote(&mapet::simt::detail::ballot_complete, "__ballot_sync", mask, pred != 0, loc));
}
inline int __any_sync(unsigned mask, int pred, MAPET_SIMT_HERE) {
  return mapet::simt::detail::vote(&mapet::simt::detail::ballot_complete, "__any_sync", mask, pred != 0, loc) != 0;
}
inline int __all_sync(unsigned mask, int pred, MAPET_SIMT_HERE) {
  return mapet::simt::detail::vote(&mapet::simt::detail::ballot_complete, "__all_sync", mask, pred != 0, loc) == mask;
}
inline void __syncwarp(unsigned mask = 0xffffffffu, MAPET_SIMT_HERE) {
  mapet::simt::detail::vote(&mapet::simt::detail::syncwarp_complete, "__syncwarp", mask, 0, loc);
}

#define MAPET_SIMT_REDUCE(NAME, OP, T)                                                                         \
  inline T NAME(unsigned mask, T value, MAPET_SIMT_HERE) {                                                     \
    return static_cast<T>(mapet::simt::detail::vote(                                                          \
        &mapet::simt::detail::reduce_complete<mapet::simt::detail::Reduce::OP>, #NAME, mask,                   \
        static_cast<uint32_t>(value), loc));                                                                   \
  }
MAPET_SIMT_REDUCE(__reduce_add_sync, add, unsigned)
MAPET_SIMT_REDUCE(__reduce_add_sync, add, int)
MAPET_SIMT_REDUCE(__reduce_min_sync, min_u, unsigned)
MAPET_SIMT_REDUCE(__reduce_min_sync, min_i, int)
MAPET_SIMT_REDUCE(__reduce_max_sync, max_u, unsigned)
MAPET_SIMT_REDUCE(__reduce_max_sync, max_i, int)
MAPET_SIMT_REDUCE(__reduce_and_sync, and_, unsigned)
MAPET_SIMT_REDUCE(__reduce_or_sync, or_, unsigned)
MAPET_SIMT_REDUCE(__reduce_xor_sync, xor_, unsigned)
#undef MAPET_SIMT_REDUCE
