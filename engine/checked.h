// Checked size arithmetic for numbers that come from outside: file headers,
// pickles, CSV lines, configs and flags. A crafted size must be refused with an
// error naming the file and field, never wrap around to a small, plausible
// number that then passes the byte-count check and overflows a buffer.
// Every size read from a file goes through these (or through shape_numel /
// Tensor::empty, which use them).
#pragma once
#include <cstdint>
#include <string>

#include "engine/tensor.h"

namespace mapet {

// a * b and a + b; false when the exact result does not fit.
inline bool mul_fits(int64_t a, int64_t b, int64_t& out) { return !__builtin_mul_overflow(a, b, &out); }
inline bool add_fits(int64_t a, int64_t b, int64_t& out) { return !__builtin_add_overflow(a, b, &out); }
inline bool mul_fits(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }
inline bool add_fits(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_add_overflow(a, b, &out); }

// The same, throwing Error("<what>: a x b overflows") where the result does not fit.
int64_t checked_mul(int64_t a, int64_t b, const std::string& what);
int64_t checked_add(int64_t a, int64_t b, const std::string& what);
uint64_t checked_mul(uint64_t a, uint64_t b, const std::string& what);
uint64_t checked_add(uint64_t a, uint64_t b, const std::string& what);

// Elements of `shape` (each size >= 0) such that elements x elem_size bytes fit
// in int64; otherwise an Error that starts with `what` and shows the shape.
int64_t checked_numel(const Shape& shape, size_t elem_size, const std::string& what);

// Parses a whole decimal integer (optional sign, surrounding spaces allowed);
// false for anything else, including a number outside int64.
bool parse_int64(const std::string& text, int64_t& out);

}  // namespace mapet
