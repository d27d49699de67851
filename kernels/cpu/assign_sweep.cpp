// The assignment sweep (kernels/cpu/assign.h), compiled once per instruction-set
// level (kernels/cpu/isa.h): bf16 dot products where the level has them
// (avx512_bf16), f32 FMAs in vectors of the level's width otherwise.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/assign.h"
#include "kernels/cpu/assign_impl.h"

#if defined(__AVX512BF16__)
#include <immintrin.h>
#endif

namespace mapet::cpu::MAPET_ISA {

using namespace assign_detail;

namespace {

// Micro kernels: tile[r][j] (+)= dot(row r of the micro panel, centroid j of the
// strip) over `steps` steps; accumulate adds to what tile holds (a later chunk
// of the dimensions). a: [steps][kMR] (one bf16 pair, or one float, per row
// and step); b: [steps][kNR].

#if defined(__AVX512BF16__)
void micro_bf16(const uint32_t* a, const uint32_t* b, int64_t steps, float* tile, bool accumulate) {
  __m512 acc[kMR][4];
  for (int r = 0; r < kMR; ++r)
    for (int v = 0; v < 4; ++v) acc[r][v] = accumulate ? _mm512_loadu_ps(tile + r * kNR + v * 16) : _mm512_setzero_ps();
  for (int64_t p = 0; p < steps; ++p) {
    const uint32_t* bp = b + p * kNR;
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp), b1 = (__m512bh)_mm512_loadu_si512(bp + 16),
                   b2 = (__m512bh)_mm512_loadu_si512(bp + 32), b3 = (__m512bh)_mm512_loadu_si512(bp + 48);
    const uint32_t* ap = a + p * kMR;
    for (int r = 0; r < kMR; ++r) {
      const __m512bh ar = (__m512bh)_mm512_set1_epi32(static_cast<int>(ap[r]));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], ar, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], ar, b1);
      acc[r][2] = _mm512_dpbf16_ps(acc[r][2], ar, b2);
      acc[r][3] = _mm512_dpbf16_ps(acc[r][3], ar, b3);
    }
  }
  for (int r = 0; r < kMR; ++r)
    for (int v = 0; v < 4; ++v) _mm512_storeu_ps(tile + r * kNR + v * 16, acc[r][v]);
}
#endif

void micro_f32(const float* a, const float* b, int64_t steps, float* tile, bool accumulate) {
  float acc[kMR][kNR] = {};
  if (accumulate) std::copy(tile, tile + kMR * kNR, &acc[0][0]);
  for (int64_t p = 0; p < steps; ++p) {
    const float* bp = b + p * kNR;
    for (int r = 0; r < kMR; ++r) {
      const float ar = a[p * kMR + r];
#pragma omp simd
      for (int j = 0; j < kNR; ++j) acc[r][j] += ar * bp[j];
    }
  }
  std::copy(&acc[0][0], &acc[0][0] + kMR * kNR, tile);
}

struct Candidate {
  int64_t id;
  float score;
};

// What the sweep knows about one row while it runs.
struct RowState {
  float best = kInf;    // lowest approximate score so far
  float thr = kInf;     // candidates need a score <= thr = best + margin
  float margin = 0;
  bool finite = true;
  size_t limit = 256;   // compact the candidate list when it reaches this size
  std::vector<Candidate> candidates;
};

// A centroid strip lowered the row's best score or came close to it: keep
// every centroid of the strip within the margin, drop older ones that no
// longer are, now and then.
void take(RowState& st, const float* scores, float lowest, int64_t first_id) {
  if (lowest < st.best) {
    st.best = lowest;
    st.thr = lowest + st.margin;
  }
  for (int j = 0; j < kNR; ++j)
    if (scores[j] <= st.thr) st.candidates.push_back({first_id + j, scores[j]});
  if (st.candidates.size() >= st.limit) {
    const float thr = st.thr;
    std::erase_if(st.candidates, [thr](const Candidate& c) { return c.score > thr; });
    if (st.candidates.size() * 2 > st.limit) st.limit *= 2;
  }
}

// One thread's pass over blocks of rows: pack a block, sweep every centroid
// strip over it, then re-rank each row's candidates. The dimensions are swept
// in chunks of `chunk` steps so that a chunk of the block's rows and of the
// strip stay in the L2 cache while every micro panel of the block reuses them;
// the block's partial sums wait in `tile` between chunks.
struct AssignSweep {
  const AssignTables& c;
  const bool bf16;
  const int64_t steps;       // dot-product steps per centroid: d_pad / 2 bf16 pairs, or d_pad floats
  const int64_t block_rows;  // rows packed at once (a multiple of kMR)
  const int64_t chunk;       // steps per sweep of the dimensions
  std::vector<uint32_t> a_bf16;
  std::vector<float> a_f32, row, tile;
  std::vector<RowState> state;
  int64_t reranked = 0, first_bad = -1;

  AssignSweep(const AssignTables& cc, int64_t block, int64_t chunk_steps)
      : c(cc), bf16(cc.bf16), steps(bf16 ? cc.d_pad / 2 : cc.d_pad),
        block_rows(block), chunk(chunk_steps), row(cc.d_pad, 0.0f), tile(block * kNR), state(block) {
    if (bf16) a_bf16.resize(block * steps);
    else a_f32.resize(block * steps);
  }

  // Rows [r0, r0 + m) of x into the micro-panel layout [block / kMR][steps][kMR].
  void pack(const float* x, int64_t r0, int64_t m) {
    const int64_t d = c.d;
    const common::AssignNorms cn{0, c.max_rounded, c.max_error};
    for (int64_t i = 0; i < block_rows; ++i) {
      RowState& st = state[i];
      st.candidates.clear();
      st.best = st.thr = kInf;
      st.finite = true;
      if (i < m) {
        const common::AssignNorms xn = center_and_round(x + (r0 + i) * d, c.mean.data(), d, bf16, row.data());
        st.finite = std::isfinite(xn.rounded) && std::isfinite(xn.error);
        st.margin = static_cast<float>(common::assign_margin(xn, cn, c.max_c2, d));
        if (!st.finite || !std::isfinite(st.margin)) {
          st.finite = false;
          st.thr = -kInf;  // never a candidate
          std::fill(row.begin(), row.end(), 0.0f);
        }
      } else {
        std::fill(row.begin(), row.end(), 0.0f);  // padding rows: swept, never read
      }
      const int64_t panel = i / kMR, r = i % kMR;
      if (bf16) {
        uint32_t* dst = a_bf16.data() + panel * steps * kMR + r;
        for (int64_t p = 0; p < steps; ++p) dst[p * kMR] = bf16_pair(row.data(), 2 * p, d);
      } else {
        float* dst = a_f32.data() + panel * steps * kMR + r;
        for (int64_t p = 0; p < steps; ++p) dst[p * kMR] = row[p];
      }
    }
  }

  // Steps [k0, k0 + len) of one micro panel against one strip, into the panel's tile.
  void micro(int64_t panel, int64_t strip, int64_t k0, int64_t len) {
    float* t = tile.data() + panel * kMR * kNR;
#if defined(__AVX512BF16__)
    if (bf16) {
      micro_bf16(a_bf16.data() + (panel * steps + k0) * kMR, c.packed_bf16.data() + (strip * steps + k0) * kNR, len,
                 t, k0 > 0);
      return;
    }
#endif
    micro_f32(a_f32.data() + (panel * steps + k0) * kMR, c.packed_f32.data() + (strip * steps + k0) * kNR, len, t,
              k0 > 0);
  }

  // Scores of one tile (kMR rows x kNR centroids) into the rows' running minima.
  void epilogue(int64_t panel, int64_t strip, int64_t m) {
    const float* c2 = c.c2.data() + strip * kNR;
    const int rows = static_cast<int>(std::min<int64_t>(kMR, m - panel * kMR));
    float scores[kNR];
    for (int r = 0; r < rows; ++r) {
      RowState& st = state[panel * kMR + r];
      const float* t = tile.data() + (panel * kMR + r) * kNR;
      float lowest = kInf;
#pragma omp simd reduction(min : lowest)
      for (int j = 0; j < kNR; ++j) {
        scores[j] = std::fma(-2.0f, t[j], c2[j]);
        lowest = std::min(lowest, scores[j]);
      }
      if (lowest <= st.thr) take(st, scores, lowest, strip * kNR);
    }
  }

  void finish(const float* x, int64_t r0, int64_t m, int64_t* ids, float* dist) {
    const int64_t d = c.d;
    for (int64_t i = 0; i < m; ++i) {
      RowState& st = state[i];
      int64_t best_id = -1;
      double best = std::numeric_limits<double>::infinity();
      if (st.finite) {
        for (const Candidate& cand : st.candidates) {
          if (cand.score > st.thr || cand.id >= c.k) continue;
          const double dd = squared_distance64(x + (r0 + i) * d, c.c.data() + cand.id * d, d);
          ++reranked;
          if (common::assign_better(dd, cand.id, best, best_id)) best = dd, best_id = cand.id;
        }
      } else if (first_bad < 0) {
        first_bad = r0 + i;
      }
      ids[r0 + i] = best_id;
      if (dist) dist[r0 + i] = best_id >= 0 ? static_cast<float>(best) : std::numeric_limits<float>::quiet_NaN();
    }
  }

  void run_block(const float* x, int64_t r0, int64_t m, int64_t* ids, float* dist) {
    pack(x, r0, m);
    const int64_t panels = (m + kMR - 1) / kMR, strips = c.k_pad / kNR;
    for (int64_t s = 0; s < strips; ++s) {
      for (int64_t k0 = 0; k0 < steps; k0 += chunk)
        for (int64_t p = 0; p < panels; ++p) micro(p, s, k0, std::min(chunk, steps - k0));
      for (int64_t p = 0; p < panels; ++p) epilogue(p, s, m);
    }
    finish(x, r0, m, ids, dist);
  }
};

}  // namespace

int64_t assign_sweep(const AssignTables& c, const float* x, int64_t n, int64_t* ids, float* dist, int64_t* reranked) {
  // Blocking for a 1 MiB L2 cache: a chunk of 256 steps (512 bf16 or 256 f32
  // dimensions) of a 192-row block is 192 KiB, of a strip 64 KiB; each strip
  // chunk then serves 32 micro panels before it leaves the cache.
  const int64_t steps = c.bf16 ? round_up(c.d, 2) / 2 : round_up(c.d, 2);
  const int64_t chunk = steps <= 384 ? steps : 256;  // short rows: one chunk, no partial sums
  const int64_t block = std::min<int64_t>(32 * kMR, round_up(n, kMR));
  const int64_t blocks = (n + block - 1) / block;
  int64_t total_reranked = 0, first_bad = n;
  const bool threaded = blocks > 1 && n * c.k * c.d > (int64_t(1) << 22);
#pragma omp parallel reduction(+ : total_reranked) reduction(min : first_bad) if (threaded)
  {
    AssignSweep sweep(c, block, chunk);
#pragma omp for schedule(dynamic, 1)
    for (int64_t b = 0; b < blocks; ++b) sweep.run_block(x, b * block, std::min(block, n - b * block), ids, dist);
    total_reranked += sweep.reranked;
    if (sweep.first_bad >= 0) first_bad = std::min(first_bad, sweep.first_bad);
  }
  *reranked += total_reranked;
  return first_bad < n ? first_bad : -1;
}

}  // namespace mapet::cpu::MAPET_ISA
