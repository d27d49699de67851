// The MaPeT attention mask as two integers per row (DESIGN.md, "MaPeT").
//
// Keys are laid out as [real tokens sorted by rank (T) | mask tokens sorted by
// the rank of their patch (M)]. Row i may attend to real keys [0, real_end[i])
// and mask keys [T + mask_start[i], T + M). Because the sequence is stored in
// permutation order, the intervals depend only on (T, L, objective), never on
// the sample: nothing of size T x T is ever materialised.
#pragma once
#include "kernels/common/hd.h"

namespace mapet::common {

enum class Objective : int { mapet = 0, pet = 1, mim = 2 };

// Row layout of the query sequence:
//   mapet: [content real (T) | content mask (M) | query (M)]   M = T - L
//   pet:   [content real (T) | query (M)]                      (no mask tokens in the content stream;
//                                                                keys are the T real tokens only)
//   mim:   [T rows]                                             (one stream, full view)
struct IntervalRow {
  int real_end;
  int mask_start;
};

// r: the row index in the layout above; T real tokens, L context tokens (CLS included).
MAPET_HD IntervalRow mapet_row_interval(Objective obj, int row, int T, int L) {
  const int M = T - L;
  if (obj == Objective::mim) return {T, 0};
  if (row < T) {  // content stream, real token of rank r = row
    int real_end = row + 1 > L ? row + 1 : L;
    int mask_start = row - L + 1 > 0 ? row - L + 1 : 0;  // mask tokens of later ranks
    return {real_end, obj == Objective::pet ? 0 : mask_start};
  }
  if (obj == Objective::mapet && row < T + M) return {L, 0};  // content stream, mask token
  const int q = obj == Objective::mapet ? row - T - M : row - T;  // query row q predicts rank L + q
  return {L + q, q};
}

// Number of query-sequence rows and of key rows for an objective.
MAPET_HD int mapet_query_rows(Objective obj, int T, int L) {
  return obj == Objective::mapet ? T + 2 * (T - L) : obj == Objective::pet ? T + (T - L) : T;
}
MAPET_HD int mapet_key_rows(Objective obj, int T, int L) { return obj == Objective::mapet ? T + (T - L) : T; }

}  // namespace mapet::common
