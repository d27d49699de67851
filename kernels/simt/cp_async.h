// cp.async (global -> shared, asynchronous) with the completion rules of the
// PTX ISA: copies are grouped by cp.async.commit_group, and
// cp.async.wait_group N returns once at most N of this thread's most recent
// groups are still pending; cp.async.wait_all is commit + wait_group 0.
//
// To make a read-before-wait bug visible, the source is read at issue but the
// destination is filled with 0xff bytes (NaN as f32, bf16 and f16; -1 as an
// integer) and gets its data only at the wait that covers the copy. Copies
// still pending when a thread exits land then. Like the GPU, the runtime
// requires dst and src aligned to the copy size.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

#include "kernels/simt/block.h"

namespace mapet::simt::detail {

inline void cp_async(const char* name, void* dst, const void* src, uint32_t bytes, int src_bytes) {
  SimThread& t = current_thread(name);
  if (reinterpret_cast<uintptr_t>(dst) % bytes != 0 || (src_bytes > 0 && reinterpret_cast<uintptr_t>(src) % bytes != 0)) {
    throw LaneFault{std::string(name) + ": misaligned address (dst " + std::to_string(reinterpret_cast<uintptr_t>(dst)) +
                    ", src " + std::to_string(reinterpret_cast<uintptr_t>(src)) + " must be multiples of " +
                    std::to_string(bytes) + ")"};
  }
  if (src_bytes < 0 || src_bytes > static_cast<int>(bytes)) {
    throw LaneFault{std::string(name) + ": src_bytes " + std::to_string(src_bytes) + " is outside [0, " +
                    std::to_string(bytes) + "]"};
  }
  PendingCopy c;
  c.dst = dst;
  c.group = kUncommitted;
  c.bytes = bytes;
  if (src_bytes > 0) std::memcpy(c.data, src, static_cast<size_t>(src_bytes));
  std::memset(c.data + src_bytes, 0, bytes - static_cast<uint32_t>(src_bytes));  // the zero-fill
  std::memset(dst, 0xff, bytes);
  t.copies.push_back(c);
}

inline void cp_async_land(SimThread& t, uint32_t groups_kept) {
  // Groups are numbered 0, 1, ... in commit order; keep the newest `groups_kept`.
  size_t kept = 0;
  for (const PendingCopy& c : t.copies) {
    if (c.group != kUncommitted && c.group + groups_kept < t.next_group) {
      std::memcpy(c.dst, c.data, c.bytes);
    } else {
      t.copies[kept++] = c;
    }
  }
  t.copies.resize(kept);
}

}  // namespace mapet::simt::detail

// Copies 16, 8 or 4 bytes from global to shared memory, asynchronously.
inline void cp_async_16(void* smem, const void* gmem) { mapet::simt::detail::cp_async("cp_async_16", smem, gmem, 16, 16); }
inline void cp_async_8(void* smem, const void* gmem) { mapet::simt::detail::cp_async("cp_async_8", smem, gmem, 8, 8); }
inline void cp_async_4(void* smem, const void* gmem) { mapet::simt::detail::cp_async("cp_async_4", smem, gmem, 4, 4); }
// Copies the first src_bytes (0..size) and zero-fills the rest: src_bytes = 0
// reads nothing, which makes it the bounds-check form (gmem may then be any
// aligned address, e.g. the tensor's base).
inline void cp_async_16_zfill(void* smem, const void* gmem, int src_bytes) {
  mapet::simt::detail::cp_async("cp_async_16_zfill", smem, gmem, 16, src_bytes);
}
inline void cp_async_8_zfill(void* smem, const void* gmem, int src_bytes) {
  mapet::simt::detail::cp_async("cp_async_8_zfill", smem, gmem, 8, src_bytes);
}
inline void cp_async_4_zfill(void* smem, const void* gmem, int src_bytes) {
  mapet::simt::detail::cp_async("cp_async_4_zfill", smem, gmem, 4, src_bytes);
}

inline void cp_async_commit() {
  mapet::simt::detail::SimThread& t = mapet::simt::detail::current_thread("cp_async_commit");
  for (mapet::simt::detail::PendingCopy& c : t.copies)
    if (c.group == mapet::simt::detail::kUncommitted) c.group = t.next_group;
  ++t.next_group;  // an empty group counts too, as in PTX
}

template <int N>
void cp_async_wait() {
  static_assert(N >= 0, "cp.async.wait_group takes N >= 0");
  mapet::simt::detail::cp_async_land(mapet::simt::detail::current_thread("cp_async_wait"), N);
}

inline void cp_async_wait_all() {
  cp_async_commit();
  cp_async_wait<0>();
}
