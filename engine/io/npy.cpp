#include "engine/io/npy.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>

#include "engine/checked.h"
#include "engine/io/safetensors.h"

namespace mapet::io {

namespace {

constexpr char kMagic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

// The header is a Python dict literal written by NumPy; this reads exactly the
// subset NumPy writes: quoted keys, and values that are quoted strings,
// True/False, or tuples of integers.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path) : s_(text), path_(path) {}

  NpyInfo parse() {
    NpyInfo info;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      std::string key = quoted();
      expect(':');
      skip_space();
      if (key == "descr") {
        info.descr = quoted(), have_descr = true;
      } else if (key == "fortran_order") {
        info.fortran_order = boolean(), have_order = true;
      } else if (key == "shape") {
        info.shape = tuple(), have_shape = true;
      } else {
        fail("unknown key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') ++i_;
    }
    if (!have_descr || !have_order || !have_shape) fail("the header lacks 'descr', 'fortran_order' or 'shape'");
    return info;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw Error("'" + path_ + "' has a malformed .npy header (" + why + "): " + s_);
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_space() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "' at byte " + std::to_string(i_));
    ++i_;
  }
  std::string quoted() {
    skip_space();
    char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string at byte " + std::to_string(i_));
    size_t end = s_.find(q, i_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string out = s_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    return out;
  }
  bool boolean() {
    if (s_.compare(i_, 4, "True") == 0) return i_ += 4, true;
    if (s_.compare(i_, 5, "False") == 0) return i_ += 5, false;
    fail("expected True or False at byte " + std::to_string(i_));
  }
  Shape tuple() {
    Shape shape;
    expect('(');
    while (true) {
      skip_space();
      if (peek() == ')') break;
      size_t start = i_;
      while (std::isdigit(static_cast<unsigned char>(peek()))) ++i_;
      if (i_ == start) fail("expected a dimension at byte " + std::to_string(i_));
      int64_t d = 0;
      if (!parse_int64(s_.substr(start, i_ - start), d)) fail("dimension " + s_.substr(start, i_ - start) + " is too large");
      shape.push_back(d);
      // NumPy writes Python ints; an 'L' suffix comes from Python 2.
      if (peek() == 'L') ++i_;
      skip_space();
      if (peek() == ',') ++i_;
    }
    ++i_;
    return shape;
  }

  const std::string& s_;
  const std::string& path_;
  size_t i_ = 0;
};

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot open '" + path + "': " + std::strerror(errno));
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

NpyInfo parse_info(const std::string& bytes, const std::string& path) {
  if (bytes.size() < 10 || std::memcmp(bytes.data(), kMagic, 6) != 0)
    throw Error("'" + path + "' is not a .npy file (no \\x93NUMPY magic)");
  const int major = static_cast<uint8_t>(bytes[6]);
  size_t header_len = 0, prefix = 0;
  if (major == 1) {
    header_len = static_cast<uint8_t>(bytes[8]) | static_cast<size_t>(static_cast<uint8_t>(bytes[9])) << 8;
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw Error("'" + path + "' is truncated inside its .npy header");
    for (int b = 0; b < 4; ++b) header_len |= static_cast<size_t>(static_cast<uint8_t>(bytes[8 + b])) << (8 * b);
    prefix = 12;
  } else {
    throw Error("'" + path + "' is .npy format version " + std::to_string(major) + " (this build reads 1, 2 and 3)");
  }
  if (prefix + header_len > bytes.size()) throw Error("'" + path + "' is truncated inside its .npy header");
  NpyInfo info = HeaderParser(bytes.substr(prefix, header_len), path).parse();
  info.data_offset = prefix + header_len;
  for (int64_t d : info.shape)
    if (d < 0) throw Error("'" + path + "' has a negative dimension in its shape " + shape_str(info.shape));
  return info;
}

struct Kind {
  char type;   // 'f', 'i', 'u' or 'b'
  int bytes;
};

Kind parse_descr(const std::string& descr, const std::string& path) {
  if (descr.size() < 3 || (descr[0] != '<' && descr[0] != '|' && descr[0] != '='))
    throw Error("'" + path + "' holds '" + descr + "' data: only little-endian numbers are read (use arr.astype('<f4'))");
  const std::string width = descr.substr(2);
  Kind k{descr[1], width == "1" ? 1 : width == "2" ? 2 : width == "4" ? 4 : width == "8" ? 8 : 0};
  bool ok = (k.type == 'f' && (k.bytes == 4 || k.bytes == 8)) ||
            ((k.type == 'i' || k.type == 'u') && (k.bytes == 1 || k.bytes == 2 || k.bytes == 4 || k.bytes == 8)) ||
            (k.type == 'b' && k.bytes == 1);
  if (!ok) throw Error("'" + path + "' holds '" + descr + "' data; readable: f4, f8, i1..i8, u1..u8, b1");
  return k;
}

template <class T>
T read_le(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // x86 and every target here are little-endian
  return v;
}

const char* descr_of(DType t) {
  switch (t) {
    case DType::f32: return "<f4";
    case DType::i32: return "<i4";
    case DType::i64: return "<i8";
    case DType::u8: return "|u1";
    default: return nullptr;
  }
}

}  // namespace

NpyInfo read_npy_info(const std::string& path) {
  // The header is at most 4 GiB in theory; in practice a few hundred bytes.
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot open '" + path + "': " + std::strerror(errno));
  std::string head(65536 + 12, '\0');
  f.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(f.gcount()));
  return parse_info(head, path);
}

Tensor load_npy(const std::string& path) {
  const std::string bytes = read_all(path);
  const NpyInfo info = parse_info(bytes, path);
  if (info.fortran_order)
    throw Error("'" + path + "' is in Fortran order; save it with np.save(f, np.ascontiguousarray(arr))");
  const Kind k = parse_descr(info.descr, path);
  const int64_t n = checked_numel(info.shape, static_cast<size_t>(k.bytes), "'" + path + "'");
  const size_t need = static_cast<size_t>(n) * static_cast<size_t>(k.bytes);
  if (bytes.size() - info.data_offset != need)
    throw Error("'" + path + "' has " + std::to_string(bytes.size() - info.data_offset) + " data bytes where " +
                info.descr + " " + shape_str(info.shape) + " needs " + std::to_string(need) + " (truncated?)");
  const char* src = bytes.data() + info.data_offset;
  auto copy_as = [&](DType t) {
    Tensor out = Tensor::empty(info.shape, t);
    if (need) std::memcpy(out.raw_data(), src, need);
    return out;
  };
  if (k.type == 'f' && k.bytes == 4) return copy_as(DType::f32);
  if (k.type == 'i' && k.bytes == 4) return copy_as(DType::i32);
  if (k.type == 'i' && k.bytes == 8) return copy_as(DType::i64);
  if ((k.type == 'u' || k.type == 'b') && k.bytes == 1) return copy_as(DType::u8);
  if (k.type == 'f') {  // f8 -> f32
    Tensor out = Tensor::empty(info.shape, DType::f32);
    float* o = out.data<float>();
    for (int64_t i = 0; i < n; ++i) o[i] = static_cast<float>(read_le<double>(src + 8 * i));
    return out;
  }
  // The remaining integer types widen to i64.
  Tensor out = Tensor::empty(info.shape, DType::i64);
  int64_t* o = out.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const char* p = src + static_cast<size_t>(k.bytes) * i;
    if (k.type == 'i') {
      o[i] = k.bytes == 1 ? read_le<int8_t>(p) : k.bytes == 2 ? read_le<int16_t>(p) : read_le<int32_t>(p);
    } else if (k.bytes == 8) {
      uint64_t v = read_le<uint64_t>(p);
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        throw Error("'" + path + "': element " + std::to_string(i) + " (" + std::to_string(v) + ") does not fit in i64");
      o[i] = static_cast<int64_t>(v);
    } else {
      o[i] = k.bytes == 2 ? read_le<uint16_t>(p) : read_le<uint32_t>(p);
    }
  }
  return out;
}

std::string npy_bytes(const Tensor& t, const std::string& what) {
  const char* descr = descr_of(t.dtype());
  if (!descr) throw Error("cannot write " + what + " as .npy: " + dtype_name(t.dtype()) + " (f32, i32, i64, u8 only)");
  std::string shape = "(";
  for (int64_t d : t.shape()) shape += std::to_string(d) + ", ";
  if (t.dim() == 1) shape.resize(shape.size() - 1);  // "(5,)" as Python writes a 1-tuple
  else if (t.dim() > 1) shape.resize(shape.size() - 2);
  shape += ")";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad with spaces so the data starts on a 64-byte boundary, newline last (NumPy's layout).
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  if (header.size() > 65535) throw Error("cannot write " + what + " as .npy: shape " + shape_str(t.shape()) + " makes too long a header");
  std::string out(kMagic, 6);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  Tensor c = t.contiguous();
  out.append(static_cast<const char*>(c.raw_data()), c.nbytes());
  return out;
}

void save_npy(const std::string& path, const Tensor& t) {
  if (t.device() != Device::cpu) throw Error("save_npy '" + path + "': tensor is on " + device_name(t.device()));
  write_file_atomic(path, npy_bytes(t, "'" + path + "'"));
}

}  // namespace mapet::io
