#include "engine/checked.h"

#include <cctype>
#include <charconv>

namespace mapet {

namespace {

template <class T>
[[noreturn]] void overflow(T a, const char* op, T b, const std::string& what) {
  throw Error(what + ": " + std::to_string(a) + op + std::to_string(b) + " overflows a 64-bit size (a damaged or crafted value)");
}

}  // namespace

int64_t checked_mul(int64_t a, int64_t b, const std::string& what) {
  int64_t r;
  if (!mul_fits(a, b, r)) overflow(a, " x ", b, what);
  return r;
}

int64_t checked_add(int64_t a, int64_t b, const std::string& what) {
  int64_t r;
  if (!add_fits(a, b, r)) overflow(a, " + ", b, what);
  return r;
}

uint64_t checked_mul(uint64_t a, uint64_t b, const std::string& what) {
  uint64_t r;
  if (!mul_fits(a, b, r)) overflow(a, " x ", b, what);
  return r;
}

uint64_t checked_add(uint64_t a, uint64_t b, const std::string& what) {
  uint64_t r;
  if (!add_fits(a, b, r)) overflow(a, " + ", b, what);
  return r;
}

int64_t checked_numel(const Shape& shape, size_t elem_size, const std::string& what) {
  int64_t n = 1;
  bool ok = true;
  for (int64_t d : shape) {
    if (d < 0) throw Error(what + ": negative size in shape " + shape_str(shape));
    ok = ok && mul_fits(n, d, n);
  }
  int64_t bytes = 0;
  if (!ok || !mul_fits(n, static_cast<int64_t>(elem_size), bytes))
    throw Error(what + ": shape " + shape_str(shape) + " has more elements than fit in memory (a damaged or crafted size)");
  return n;
}

bool parse_int64(const std::string& text, int64_t& out) {
  size_t b = 0, e = text.size();
  while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
  if (b < e && text[b] == '+') {  // from_chars takes '-' but not '+'
    if (++b < e && text[b] == '-') return false;
  }
  if (b == e) return false;
  const char* first = text.data() + b;
  auto [end, ec] = std::from_chars(first, text.data() + e, out);
  return ec == std::errc() && end == text.data() + e;
}

}  // namespace mapet
