// NumPy .npy files (format 1.0, and reading 2.0/3.0): the exchange format for
// tokenizer centroids and for visual tokens computed by other tools.
//
// A file is the magic "\x93NUMPY", a version, a little-endian header length,
// a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces to a multiple of 64 bytes, then the raw C-order data.
#pragma once
#include <string>

#include "engine/tensor.h"

namespace mapet::io {

// Reads the whole array. f32, i32, i64 and u8 arrays keep their type; the other
// integer types (NumPy's i1, i2, u2, u4, u8) become i64 (a u8 value above
// the i64 range is an error) and f8 becomes f32. Big-endian data, Fortran order,
// structured or object arrays are refused. Every Error names the file.
Tensor load_npy(const std::string& path);

// The header only: shape and NumPy type string ('<f4', '|u1', ...).
struct NpyInfo {
  std::string descr;
  Shape shape;
  bool fortran_order = false;
  size_t data_offset = 0;  // bytes from the start of the file to the data
};
NpyInfo read_npy_info(const std::string& path);

// Writes a contiguous copy of t (f32, i32, i64 or u8) as format 1.0,
// atomically (temp file, fsync, rename).
void save_npy(const std::string& path, const Tensor& t);

// The bytes save_npy writes (for tests and in-memory use); `what` names the
// destination in messages.
std::string npy_bytes(const Tensor& t, const std::string& what = "array");

}  // namespace mapet::io
