// The MaPeT interval mask (kernels/common/interval_mask.h, ops::mapet_interval_mask)
// against DESIGN.md's "who sees whom", applied token by token in NATURAL order
// for random permutations, then moved into permutation order: the two integers
// per row must describe exactly that mask.
#include <algorithm>
#include <numeric>
#include <random>

#include "engine/ops/interval_attention.h"
#include "tests/test_util.h"

namespace mapet {
namespace {

using common::Objective;

const char* name(Objective o) { return o == Objective::mapet ? "mapet" : o == Objective::pet ? "pet" : "mim"; }

// A dense boolean mask, rows x cols.
struct Dense {
  int rows = 0, cols = 0;
  std::vector<uint8_t> a;
  Dense(int r, int c) : rows(r), cols(c), a(static_cast<size_t>(r) * c, 0) {}
  uint8_t& at(int i, int j) { return a[static_cast<size_t>(i) * cols + j]; }
  uint8_t at(int i, int j) const { return a[static_cast<size_t>(i) * cols + j]; }
};

// Natural order: token 0 is CLS, tokens 1..T-1 the patches; rank[t] its
// position in the sampled order (CLS has rank 0). The predicted tokens are
// those of rank >= L, each with one mask token. Rows and keys in natural order:
//   mapet rows: [content real t = 0..T-1 | content mask m_p | query g_p], p predicted, increasing p
//         keys: [real t = 0..T-1 | mask m_p]
//   pet   rows: [content real | query g_p], keys: [real]   (no mask tokens anywhere)
//   mim   rows: [real], keys: [real], full view
// Who sees whom (DESIGN.md; pet is the same rules with no mask tokens to see):
//   content real i: real j with r(j) < max(r(i) + 1, L); mask m_p with r(p) > r(i)
//   content mask m_q: real j with r(j) < L; every mask token
//   query row i: real j with r(j) < r(i); mask m_p with r(p) >= r(i)
Dense natural_mask(Objective obj, const std::vector<int>& rank, int L, const std::vector<int>& predicted) {
  const int T = static_cast<int>(rank.size()), M = static_cast<int>(predicted.size());
  if (obj == Objective::mim) {
    Dense d(T, T);
    std::fill(d.a.begin(), d.a.end(), 1);
    return d;
  }
  const bool mapet = obj == Objective::mapet;
  const int mask_keys = mapet ? M : 0;
  Dense d(T + (mapet ? M : 0) + M, T + mask_keys);
  int row = 0;
  for (int i = 0; i < T; ++i, ++row) {  // content real token i
    for (int j = 0; j < T; ++j) d.at(row, j) = rank[j] < std::max(rank[i] + 1, L);
    for (int m = 0; m < mask_keys; ++m) d.at(row, T + m) = rank[predicted[m]] > rank[i];
  }
  if (mapet)
    for (int q = 0; q < M; ++q, ++row) {  // content mask token m_q
      for (int j = 0; j < T; ++j) d.at(row, j) = rank[j] < L;
      for (int m = 0; m < M; ++m) d.at(row, T + m) = 1;
    }
  for (int q = 0; q < M; ++q, ++row) {  // query row of predicted token i
    const int i = predicted[q];
    for (int j = 0; j < T; ++j) d.at(row, j) = rank[j] < rank[i];
    for (int m = 0; m < mask_keys; ++m) d.at(row, T + m) = rank[predicted[m]] >= rank[i];
  }
  return d;
}

// Moves rows and keys into permutation order: real token t to position rank[t];
// in each M-sized segment after the real tokens (mask tokens, query rows), the
// entry of predicted token p to rank[p] - L.
Dense to_permutation_order(const Dense& nat, const std::vector<int>& rank, int L, const std::vector<int>& predicted) {
  const int T = static_cast<int>(rank.size()), M = static_cast<int>(predicted.size());
  auto place = [&](int idx) {  // natural index -> permutation index
    if (idx < T) return rank[idx];
    const int segment = (idx - T) / M, q = (idx - T) % M;
    return T + segment * M + (rank[predicted[q]] - L);
  };
  Dense p(nat.rows, nat.cols);
  for (int i = 0; i < nat.rows; ++i)
    for (int j = 0; j < nat.cols; ++j) p.at(place(i), place(j)) = nat.at(i, j);
  return p;
}

// What an IntervalMask says: row i sees keys [0, real_end) and [num_real + mask_start, num_keys).
Dense from_intervals(const ops::IntervalMask& m, int num_keys) {
  Dense d(static_cast<int>(m.real_end.size()), num_keys);
  for (int i = 0; i < d.rows; ++i)
    for (int j = 0; j < num_keys; ++j)
      d.at(i, j) = j < m.num_real ? j < m.real_end[i] : j - m.num_real >= m.mask_start[i];
  return d;
}

::testing::AssertionResult same(const Dense& want, const Dense& got) {
  if (want.rows != got.rows || want.cols != got.cols)
    return ::testing::AssertionFailure() << "shape " << got.rows << "x" << got.cols << ", want " << want.rows << "x"
                                         << want.cols;
  for (int i = 0; i < want.rows; ++i)
    for (int j = 0; j < want.cols; ++j)
      if (want.at(i, j) != got.at(i, j))
        return ::testing::AssertionFailure()
               << "row " << i << " key " << j << ": " << int(got.at(i, j)) << ", want " << int(want.at(i, j));
  return ::testing::AssertionSuccess();
}

void check_one(Objective obj, int T, int L, std::mt19937_64& g) {
  // CLS first, the patches in random order.
  std::vector<int> order(T);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin() + 1, order.end(), g);
  std::vector<int> rank(T);
  for (int r = 0; r < T; ++r) rank[order[r]] = r;
  std::vector<int> predicted;  // natural order
  for (int t = 0; t < T; ++t)
    if (rank[t] >= L) predicted.push_back(t);
  const int M = T - L;
  ASSERT_EQ(static_cast<int>(predicted.size()), M);

  Dense nat = natural_mask(obj, rank, L, predicted);
  Dense want = to_permutation_order(nat, rank, L, predicted);
  ops::IntervalMask m = ops::mapet_interval_mask(obj, T, L);
  const int rows = common::mapet_query_rows(obj, T, L), keys = common::mapet_key_rows(obj, T, L);
  ASSERT_EQ(rows, want.rows);
  ASSERT_EQ(keys, want.cols);
  ASSERT_EQ(m.num_real, T);
  ASSERT_EQ(static_cast<int>(m.real_end.size()), rows);
  EXPECT_TRUE(same(want, from_intervals(m, keys)));

  // The dense mask that the reference attention path uses says the same.
  Tensor dm = ops::dense_mask(m, keys);
  Dense dense(rows, keys);
  std::copy(dm.data<uint8_t>(), dm.data<uint8_t>() + dm.numel(), dense.a.begin());
  EXPECT_TRUE(same(want, dense)) << "dense_mask";

  // Every row sees at least one key (CLS is context), so no softmax is empty.
  for (int i = 0; i < rows; ++i)
    EXPECT_TRUE(std::any_of(want.a.begin() + static_cast<size_t>(i) * keys,
                            want.a.begin() + static_cast<size_t>(i + 1) * keys, [](uint8_t x) { return x; }))
        << "row " << i << " sees nothing";
}

TEST(IntervalMask, MatchesWhoSeesWhomInNaturalOrderForRandomPermutations) {
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 g(seed);
  for (Objective obj : {Objective::mapet, Objective::pet, Objective::mim}) {
    for (int T : {2, 3, 5, 17, 50, 197}) {
      std::vector<int> Ls = {1, T - 1, T};
      for (int k = 0; k < 3; ++k) Ls.push_back(1 + static_cast<int>(g() % T));
      for (int L : Ls) {
        if (L < 1) continue;
        for (int rep = 0; rep < 2; ++rep) {  // two permutations each
          SCOPED_TRACE(std::string(name(obj)) + " T=" + std::to_string(T) + " L=" + std::to_string(L));
          check_one(obj, T, L, g);
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

// The natural-order construction itself is not vacuous: a mask computed for
// one permutation differs from the interval mask once the rows are put back in
// natural order (unless the permutation is the identity), and the intervals
// for neighbouring L differ.
TEST(IntervalMask, CheckDistinguishesOrdersAndContextSizes) {
  std::mt19937_64 g(test::fresh_seed());
  const int T = 17, L = 5;
  std::vector<int> rank(T);
  std::iota(rank.begin(), rank.end(), 0);
  std::shuffle(rank.begin() + 1, rank.end(), g);
  if (std::is_sorted(rank.begin(), rank.end())) std::swap(rank[1], rank[2]);
  std::vector<int> predicted;
  for (int t = 0; t < T; ++t)
    if (rank[t] >= L) predicted.push_back(t);
  Dense nat = natural_mask(Objective::mapet, rank, L, predicted);
  ops::IntervalMask m = ops::mapet_interval_mask(Objective::mapet, T, L);
  EXPECT_FALSE(same(nat, from_intervals(m, nat.cols)));
  ops::IntervalMask m2 = ops::mapet_interval_mask(Objective::mapet, T, L + 1);
  EXPECT_NE(m.real_end.size(), m2.real_end.size());
  EXPECT_THROW(ops::mapet_interval_mask(Objective::mapet, T, 0), Error);
  EXPECT_THROW(ops::mapet_interval_mask(Objective::mapet, T, T + 1), Error);
}

}  // namespace
}  // namespace mapet
