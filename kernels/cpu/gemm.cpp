#include "kernels/cpu/gemm.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <vector>

#include "kernels/common/bf16.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/parallel.h"

extern "C" void openblas_set_num_threads(int);

namespace mapet::cpu {
namespace {

GemmBackend g_backend = GemmBackend::onednn;
GemmPrecision g_precision = GemmPrecision::f32;

dnnl::engine& cpu_engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// What makes two GEMM calls share one oneDNN primitive.
using PrimitiveKey = std::tuple<int, bool, bool, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                int64_t, int64_t, int64_t, bool, float, float>;

struct PrimitiveCache {
  std::mutex mu;
  std::map<PrimitiveKey, std::pair<dnnl::matmul, dnnl::matmul::primitive_desc>> entries;
};

PrimitiveCache& primitive_cache() {
  static PrimitiveCache* c = new PrimitiveCache();
  return *c;
}

using dims = dnnl::memory::dims;
using dt = dnnl::memory::data_type;

// Strides of op(X) as an [batch, rows, cols] matrix stored with leading dimension ld.
dims matrix_strides(bool trans, int64_t ld, int64_t batch_stride) {
  return trans ? dims{batch_stride, 1, ld} : dims{batch_stride, ld, 1};
}

// Packs op-stored X (rows x cols as stored, leading dimension ld) densely
// (ld = cols), converting each value: to bf16 bits, to bf16-rounded floats, or
// from bf16 bits to floats.
template <class In, class Out, class Convert>
void pack(const In* x, int64_t rows, int64_t cols, int64_t ld, int64_t batch, int64_t stride, Out* out,
          Convert convert) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t r = 0; r < rows; ++r) {
      const In* src = x + b * stride + r * ld;
      Out* dst = out + (b * rows + r) * cols;
      for (int64_t c = 0; c < cols; ++c) dst[c] = convert(src[c]);
    }
}

uint16_t to_bits(float x) { return common::float_to_bf16(x); }
float rounded(float x) { return common::bf16_to_float(common::float_to_bf16(x)); }
float widened(uint16_t x) { return common::bf16_to_float(x); }

// C[b][i][j] += bias[j]
void add_bias(const GemmShape& s, float* c, const float* bias) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t bi = 0; bi < s.batch; ++bi)
    for (int64_t i = 0; i < s.m; ++i) {
      float* row = c + bi * s.stride_c + i * s.ldc;
      for (int64_t j = 0; j < s.n; ++j) row[j] += bias[j];
    }
}

// One oneDNN matmul on operands already in their final type: f32, or bf16 when
// in16 (then a and b point to uint16_t). lda, ldb and the strides of s describe them.
void run_matmul(const GemmShape& s, bool in16, const void* a, const void* b, float* c, float alpha, float beta,
                const float* bias) {
  // Stored extents: A is m x k (or k x m when transposed), B is k x n (or n x k).
  const int64_t a_rows = s.trans_a ? s.k : s.m;
  const int64_t b_rows = s.trans_b ? s.n : s.k;
  // A batch of one with stride 0 on B means "the same B for every item" (linear layers).
  const int64_t b_batch = (s.batch > 1 && s.stride_b == 0) ? 1 : s.batch;

  PrimitiveKey key{in16, s.trans_a, s.trans_b, s.m, s.n, s.k, s.lda, s.ldb, s.ldc, s.batch,
                   s.batch == 1 ? 0 : s.stride_a, b_batch == 1 ? 0 : s.stride_b, s.batch == 1 ? 0 : s.stride_c,
                   bias != nullptr, beta, alpha};  // beta is baked into the sum post-op
  PrimitiveCache& cache = primitive_cache();
  dnnl::matmul prim;
  dnnl::matmul::primitive_desc pd;
  {
    std::lock_guard<std::mutex> lock(cache.mu);
    auto it = cache.entries.find(key);
    if (it == cache.entries.end()) {
      dt in_t = in16 ? dt::bf16 : dt::f32;
      // Size-1 batch dims get their natural stride: oneDNN picks its reference
      // (100x slower) kernel for a zero batch stride.
      const int64_t sa_n = s.batch == 1 ? a_rows * s.lda : s.stride_a;
      const int64_t sb_n = b_batch == 1 ? b_rows * s.ldb : s.stride_b;
      const int64_t sc_n = s.batch == 1 ? s.m * s.ldc : s.stride_c;
      dnnl::memory::desc a_md({s.batch, s.m, s.k}, in_t, matrix_strides(s.trans_a, s.lda, sa_n));
      dnnl::memory::desc b_md({b_batch, s.k, s.n}, in_t, matrix_strides(s.trans_b, s.ldb, sb_n));
      dnnl::memory::desc c_md({s.batch, s.m, s.n}, dt::f32, dims{sc_n, s.ldc, 1});
      dnnl::memory::desc bias_md({1, 1, s.n}, dt::f32, dims{s.n, s.n, 1});
      dnnl::primitive_attr attr;
      if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
      if (beta != 0.0f) {
        dnnl::post_ops po;
        po.append_sum(beta);
        attr.set_post_ops(po);
      }
      dnnl::matmul::desc desc = bias ? dnnl::matmul::desc(a_md, b_md, bias_md, c_md)
                                     : dnnl::matmul::desc(a_md, b_md, c_md);
      pd = dnnl::matmul::primitive_desc(desc, attr, cpu_engine());
      prim = dnnl::matmul(pd);
      cache.entries.emplace(key, std::make_pair(prim, pd));
    } else {
      prim = it->second.first;
      pd = it->second.second;
    }
  }

  dnnl::stream stream(cpu_engine());
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, dnnl::memory(pd.src_desc(), cpu_engine(), const_cast<void*>(a))},
      {DNNL_ARG_WEIGHTS, dnnl::memory(pd.weights_desc(), cpu_engine(), const_cast<void*>(b))},
      {DNNL_ARG_DST, dnnl::memory(pd.dst_desc(), cpu_engine(), c)}};
  if (bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory(pd.query_md(dnnl::query::weights_md, 1), cpu_engine(), const_cast<float*>(bias)));
  prim.execute(stream, args);
  stream.wait();
}

// Rewrites that both input types need before the matmul itself; returns false
// when it has done the whole call through itself (with rewritten arguments).
template <class T>
bool simplify(const GemmShape& s, const T* a, const T* b, float* c, float alpha, float beta, const float* bias,
              void (*self)(const GemmShape&, const T*, const T*, float*, float, float, const float*)) {
  if (bias && alpha != 1.0f) {
    // oneDNN v2 scales its bias argument too (alpha * (AB + bias)), and its binary
    // post-op misplaces a broadcast bias when C's batch stride is not m * ldc.
    self(s, a, b, c, alpha, beta, nullptr);
    add_bias(s, c, bias);
    return false;
  }
  if (s.batch > 1 && s.stride_b == 0 && !s.trans_a && s.stride_a == s.m * s.lda && s.stride_c == s.m * s.ldc) {
    // A shared B over a dense batch is one tall GEMM: fold the batch into m.
    GemmShape t = s;
    t.m = s.m * s.batch;
    t.batch = 1;
    t.stride_a = t.stride_b = t.stride_c = 0;
    self(t, a, b, c, alpha, beta, bias);
    return false;
  }
  return true;
}

// The bf16 arithmetic of --amp: inputs rounded to bf16, f32 sums. On a CPU with
// native bf16 dot products oneDNN runs it on the bf16 operands; elsewhere (no
// bf16 matmul in oneDNN there) the rounded operands go through the f32 GEMM,
// which gives the same products and sums in another order. In is float
// (rounded here) or uint16_t (bf16 bits already).
template <class In>
void gemm_bf16_dense(const GemmShape& s, const In* a, const In* b, float* c, float alpha, float beta,
                     const float* bias) {
  const int64_t a_rows = s.trans_a ? s.k : s.m, a_cols = s.trans_a ? s.m : s.k;
  const int64_t b_rows = s.trans_b ? s.n : s.k, b_cols = s.trans_b ? s.k : s.n;
  const int64_t b_batch = (s.batch > 1 && s.stride_b == 0) ? 1 : s.batch;
  const size_t a_size = static_cast<size_t>(s.batch * a_rows * a_cols), b_size = static_cast<size_t>(b_batch * b_rows * b_cols);
  GemmShape t = s;
  t.lda = a_cols, t.ldb = b_cols;
  t.stride_a = a_rows * a_cols;
  t.stride_b = b_batch == 1 ? 0 : b_rows * b_cols;
  // Kept between calls: fresh pages cost more than the conversion itself.
  if (native_bf16()) {
    static thread_local std::vector<uint16_t> a16, b16;
    a16.resize(std::max(a16.size(), a_size));
    b16.resize(std::max(b16.size(), b_size));
    if constexpr (std::is_same_v<In, float>) {
      pack(a, a_rows, a_cols, s.lda, s.batch, s.stride_a, a16.data(), to_bits);
      pack(b, b_rows, b_cols, s.ldb, b_batch, s.stride_b, b16.data(), to_bits);
      run_matmul(t, true, a16.data(), b16.data(), c, alpha, beta, bias);
    } else {
      run_matmul(s, true, a, b, c, alpha, beta, bias);
    }
    return;
  }
  static thread_local std::vector<float> a32, b32;
  a32.resize(std::max(a32.size(), a_size));
  b32.resize(std::max(b32.size(), b_size));
  if constexpr (std::is_same_v<In, float>) {
    pack(a, a_rows, a_cols, s.lda, s.batch, s.stride_a, a32.data(), rounded);
    pack(b, b_rows, b_cols, s.ldb, b_batch, s.stride_b, b32.data(), rounded);
  } else {
    pack(a, a_rows, a_cols, s.lda, s.batch, s.stride_a, a32.data(), widened);
    pack(b, b_rows, b_cols, s.ldb, b_batch, s.stride_b, b32.data(), widened);
  }
  run_matmul(t, false, a32.data(), b32.data(), c, alpha, beta, bias);
}

void gemm_onednn(const GemmShape& s, const float* a, const float* b, float* c, float alpha, float beta,
                 const float* bias) {
  if (!simplify<float>(s, a, b, c, alpha, beta, bias, &gemm_onednn)) return;
  if (g_precision == GemmPrecision::f32) return run_matmul(s, false, a, b, c, alpha, beta, bias);
  gemm_bf16_dense<float>(s, a, b, c, alpha, beta, bias);
}

void gemm_bf16_onednn(const GemmShape& s, const uint16_t* a, const uint16_t* b, float* c, float alpha, float beta,
                      const float* bias) {
  if (!simplify<uint16_t>(s, a, b, c, alpha, beta, bias, &gemm_bf16_onednn)) return;
  gemm_bf16_dense<uint16_t>(s, a, b, c, alpha, beta, bias);
}

// OpenBLAS on one thread per row block, inside our OpenMP pool.
void gemm_openblas(const GemmShape& s, const float* a, const float* b, float* c, float alpha, float beta,
                   const float* bias) {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
  const bool bf16 = g_precision == GemmPrecision::bf16;
  const int64_t a_rows = s.trans_a ? s.k : s.m, a_cols = s.trans_a ? s.m : s.k;
  const int64_t b_rows = s.trans_b ? s.n : s.k, b_cols = s.trans_b ? s.k : s.n;
  std::vector<float> ar, br;
  if (bf16) {  // same rounding of the inputs as the bf16 path of oneDNN
    ar.resize(static_cast<size_t>(s.batch * a_rows * a_cols));
    br.resize(static_cast<size_t>(s.batch * b_rows * b_cols));
    for (int64_t bi = 0; bi < s.batch; ++bi) {
      for (int64_t r = 0; r < a_rows; ++r)
        round_to_bf16(a + bi * s.stride_a + r * s.lda, ar.data() + (bi * a_rows + r) * a_cols, a_cols);
      for (int64_t r = 0; r < b_rows; ++r)
        round_to_bf16(b + bi * s.stride_b + r * s.ldb, br.data() + (bi * b_rows + r) * b_cols, b_cols);
    }
  }
  const int64_t row_block = 64;
  const int64_t blocks = (s.m + row_block - 1) / row_block;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t bi = 0; bi < s.batch; ++bi)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      int64_t m0 = blk * row_block, mm = std::min(row_block, s.m - m0);
      const float* ab = bf16 ? ar.data() + bi * a_rows * a_cols : a + bi * s.stride_a;
      const float* bb = bf16 ? br.data() + bi * b_rows * b_cols : b + bi * s.stride_b;
      int64_t lda = bf16 ? a_cols : s.lda, ldb = bf16 ? b_cols : s.ldb;
      const float* a0 = s.trans_a ? ab + m0 : ab + m0 * lda;
      float* c0 = c + bi * s.stride_c + m0 * s.ldc;
      cblas_sgemm(CblasRowMajor, s.trans_a ? CblasTrans : CblasNoTrans, s.trans_b ? CblasTrans : CblasNoTrans,
                  static_cast<int>(mm), static_cast<int>(s.n), static_cast<int>(s.k), alpha, a0,
                  static_cast<int>(lda), bb, static_cast<int>(ldb), beta, c0, static_cast<int>(s.ldc));
      if (bias)
        for (int64_t i = 0; i < mm; ++i)
          for (int64_t j = 0; j < s.n; ++j) c0[i * s.ldc + j] += bias[j];
    }
}

}  // namespace

namespace {

// The cases that need no matmul; returns true when it has handled the call.
bool trivial_gemm(const GemmShape& s, float* c, float beta, const float* bias) {
  if (s.m == 0 || s.n == 0 || s.batch == 0) return true;
  if (s.k != 0) return false;
  // Empty sum: C = beta C + bias.
  for (int64_t bi = 0; bi < s.batch; ++bi)
    for (int64_t i = 0; i < s.m; ++i)
      for (int64_t j = 0; j < s.n; ++j) {
        float& x = c[bi * s.stride_c + i * s.ldc + j];
        x = (beta == 0.0f ? 0.0f : beta * x) + (bias ? bias[j] : 0.0f);
      }
  return true;
}

GemmShape plain_shape(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k) {
  GemmShape s;
  s.trans_a = trans_a;
  s.trans_b = trans_b;
  s.m = m;
  s.n = n;
  s.k = k;
  s.lda = trans_a ? m : k;
  s.ldb = trans_b ? k : n;
  s.ldc = n;
  return s;
}

}  // namespace

void gemm(const GemmShape& s, const float* a, const float* b, float* c, float alpha, float beta, const float* bias) {
  if (trivial_gemm(s, c, beta, bias)) return;
  if (g_backend == GemmBackend::onednn)
    gemm_onednn(s, a, b, c, alpha, beta, bias);
  else
    gemm_openblas(s, a, b, c, alpha, beta, bias);
}

void gemm_bf16(const GemmShape& s, const uint16_t* a, const uint16_t* b, float* c, float alpha, float beta,
               const float* bias) {
  if (g_backend != GemmBackend::onednn) throw std::logic_error("gemm_bf16: needs the oneDNN backend");
  if (trivial_gemm(s, c, beta, bias)) return;
  gemm_bf16_onednn(s, a, b, c, alpha, beta, bias);
}

void gemm_bf16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const uint16_t* a, const uint16_t* b,
               float* c, float beta, const float* bias) {
  gemm_bf16(plain_shape(trans_a, trans_b, m, n, k), a, b, c, 1.0f, beta, bias);
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c,
          float beta, const float* bias) {
  gemm(plain_shape(trans_a, trans_b, m, n, k), a, b, c, 1.0f, beta, bias);
}

void set_gemm_backend(GemmBackend b) { g_backend = b; }
GemmBackend gemm_backend() { return g_backend; }
void set_gemm_precision(GemmPrecision p) { g_precision = p; }
GemmPrecision gemm_precision() { return g_precision; }

bool gemm_thread_count_invariant() { return g_backend == GemmBackend::openblas; }

bool gemm_uses_bf16() { return g_precision == GemmPrecision::bf16 && g_backend == GemmBackend::onednn; }

void to_bf16(const float* x, uint16_t* y, int64_t n) {
  parallel_blocks(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) y[i] = common::float_to_bf16(x[i]);
  });
}

void round_to_bf16(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = common::bf16_to_float(common::float_to_bf16(x[i]));
}

}  // namespace mapet::cpu
