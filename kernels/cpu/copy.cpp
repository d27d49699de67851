#include "kernels/cpu/copy.h"

#include <cstring>
#include <vector>

namespace mapet::cpu::MAPET_ISA {

void copy_strided(void* dst, const int64_t* dst_strides, const void* src, const int64_t* src_strides,
                  const int64_t* shape, int ndim, size_t es) {
  // Drop size-1 dims and merge dims that are contiguous in both layouts.
  std::vector<int64_t> sh, ds, ss;
  for (int i = 0; i < ndim; ++i) {
    if (shape[i] == 0) return;
    if (shape[i] == 1) continue;
    if (!sh.empty() && ds.back() == dst_strides[i] * shape[i] && ss.back() == src_strides[i] * shape[i]) {
      sh.back() *= shape[i];
      ds.back() = dst_strides[i];
      ss.back() = src_strides[i];
    } else {
      sh.push_back(shape[i]);
      ds.push_back(dst_strides[i]);
      ss.push_back(src_strides[i]);
    }
  }
  char* d = static_cast<char*>(dst);
  const char* s = static_cast<const char*>(src);
  if (sh.empty()) {
    std::memcpy(d, s, es);
    return;
  }
  const int nd = static_cast<int>(sh.size());
  const int64_t inner = sh[nd - 1], d_in = ds[nd - 1], s_in = ss[nd - 1];
  int64_t rows = 1;
  for (int i = 0; i < nd - 1; ++i) rows *= sh[i];
  const bool contiguous_rows = d_in == 1 && s_in == 1;
#pragma omp parallel for schedule(static) if (rows * inner > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rem = r, doff = 0, soff = 0;
    for (int i = nd - 2; i >= 0; --i) {
      int64_t idx = rem % sh[i];
      rem /= sh[i];
      doff += idx * ds[i];
      soff += idx * ss[i];
    }
    char* dr = d + doff * static_cast<int64_t>(es);
    const char* sr = s + soff * static_cast<int64_t>(es);
    if (contiguous_rows) {
      std::memcpy(dr, sr, static_cast<size_t>(inner) * es);
    } else if (es == 4) {
      for (int64_t j = 0; j < inner; ++j)
        reinterpret_cast<uint32_t*>(dr)[j * d_in] = reinterpret_cast<const uint32_t*>(sr)[j * s_in];
    } else {
      for (int64_t j = 0; j < inner; ++j) std::memcpy(dr + j * d_in * es, sr + j * s_in * es, es);
    }
  }
}

}  // namespace mapet::cpu::MAPET_ISA
