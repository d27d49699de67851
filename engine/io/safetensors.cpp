#include "engine/io/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/checked.h"

namespace mapet::io {

namespace {

const char* st_dtype(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::bf16: return "BF16";
    case DType::f16: return "F16";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
    case DType::u8: return "U8";
  }
  return "?";
}

bool parse_dtype(const std::string& s, DType& t) {
  static const std::map<std::string, DType> m{{"F32", DType::f32}, {"BF16", DType::bf16}, {"F16", DType::f16},
                                              {"I32", DType::i32}, {"I64", DType::i64},   {"U8", DType::u8},
                                              {"BOOL", DType::u8}};
  auto it = m.find(s);
  if (it == m.end()) return false;
  t = it->second;
  return true;
}

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot open '" + path + "': " + std::strerror(errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Parsed {
  nlohmann::json header;
  std::string bytes;
  size_t data_start = 0;
};

Parsed parse(const std::string& path) {
  Parsed p;
  p.bytes = read_all(path);
  if (p.bytes.size() < 8) throw Error("'" + path + "' is not a safetensors file: shorter than its 8-byte header length");
  uint64_t n = 0;
  std::memcpy(&n, p.bytes.data(), 8);
  if (n > p.bytes.size() - 8)
    throw Error("'" + path + "' is truncated or not a safetensors file: header of " + std::to_string(n) +
                " bytes in a file of " + std::to_string(p.bytes.size()));
  try {
    p.header = nlohmann::json::parse(p.bytes.substr(8, n));
  } catch (const std::exception& e) {
    throw Error("'" + path + "': bad safetensors header JSON: " + e.what());
  }
  if (!p.header.is_object()) throw Error("'" + path + "': safetensors header is not a JSON object");
  p.data_start = 8 + n;
  return p;
}

// A list of non-negative JSON integers (shape, data_offsets); anything else (floats, negatives,
// strings) is refused: converting an out-of-range float to an integer is undefined behaviour.
std::vector<int64_t> sizes(const nlohmann::json& j, const char* field, const std::function<Error(std::string)>& fail) {
  if (!j.is_array()) throw fail(std::string("'") + field + "' is not a list");
  std::vector<int64_t> out;
  for (const nlohmann::json& x : j) {
    if (!x.is_number_unsigned() || x.get<uint64_t>() > uint64_t(INT64_MAX))
      throw fail(std::string("'") + field + "' holds " + x.dump() + ", not a size");
    out.push_back(static_cast<int64_t>(x.get<uint64_t>()));
  }
  return out;
}

}  // namespace

TensorMap load_safetensors(const std::string& path) {
  Parsed p = parse(path);
  const int64_t data_len = static_cast<int64_t>(p.bytes.size() - p.data_start);
  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    int64_t begin, end;
  };
  std::vector<Entry> entries;
  for (auto& item : p.header.items()) {
    const std::string& name = item.key();  // not a structured binding: lambdas below capture it
    const nlohmann::json& info = item.value();
    if (name == "__metadata__") continue;
    auto fail = [&](const std::string& what) { return Error("'" + path + "', tensor '" + name + "': " + what); };
    if (!info.is_object()) throw fail("header entry is " + info.dump() + ", not {dtype, shape, data_offsets}");
    Entry e{name, DType::f32, {}, 0, 0};
    auto dtype = info.find("dtype");
    if (dtype == info.end() || !dtype->is_string() || !parse_dtype(dtype->get<std::string>(), e.dtype))
      throw fail("unsupported or missing dtype" + (dtype == info.end() ? std::string() : " " + dtype->dump()));
    if (!info.contains("shape") || !info.contains("data_offsets")) throw fail("the header entry lacks 'shape' or 'data_offsets'");
    e.shape = sizes(info["shape"], "shape", fail);
    const std::vector<int64_t> off = sizes(info["data_offsets"], "data_offsets", fail);
    if (off.size() != 2 || off[0] > off[1] || off[1] > data_len)
      throw fail("data_offsets " + info["data_offsets"].dump() + " outside the " + std::to_string(data_len) +
                 " data bytes (truncated file?)");
    // The byte count is checked before anything is allocated: the shape alone could ask for exabytes.
    const int64_t numel = checked_numel(e.shape, dtype_size(e.dtype), "'" + path + "', tensor '" + name + "'");
    const int64_t nbytes = numel * static_cast<int64_t>(dtype_size(e.dtype));
    if (off[1] - off[0] != nbytes)
      throw fail("holds " + std::to_string(off[1] - off[0]) + " bytes, but " + dtype_name(e.dtype) + shape_str(e.shape) +
                 " needs " + std::to_string(nbytes));
    e.begin = off[0], e.end = off[1];
    entries.push_back(std::move(e));
  }
  // As the reference loader requires: the tensors tile the data exactly, with no gap, overlap or tail.
  std::vector<const Entry*> order;
  for (const Entry& e : entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  int64_t at = 0;
  for (const Entry* e : order) {
    if (e->begin != at)
      throw Error("'" + path + "', tensor '" + e->name + "': data_offsets [" + std::to_string(e->begin) + ", " +
                  std::to_string(e->end) + "] " + (e->begin < at ? "overlap another tensor" : "leave a gap") +
                  " (the tensors must cover the data exactly, in order)");
    at = e->end;
  }
  if (at != data_len)
    throw Error("'" + path + "': the tensors cover " + std::to_string(at) + " of the " + std::to_string(data_len) +
                " data bytes (trailing bytes: a damaged file)");
  TensorMap out;
  for (const Entry& e : entries) {
    Tensor tensor = Tensor::empty(e.shape, e.dtype);
    if (tensor.nbytes()) std::memcpy(tensor.raw_data(), p.bytes.data() + p.data_start + e.begin, tensor.nbytes());
    out.emplace(e.name, tensor);
  }
  return out;
}

std::map<std::string, std::string> safetensors_metadata(const std::string& path) {
  Parsed p = parse(path);
  std::map<std::string, std::string> out;
  if (!p.header.contains("__metadata__")) return out;
  const nlohmann::json& m = p.header["__metadata__"];
  if (!m.is_object()) throw Error("'" + path + "': __metadata__ is " + m.dump() + ", not a mapping of strings");
  for (auto& [k, v] : m.items()) out[k] = v.is_string() ? v.get<std::string>() : v.dump();
  return out;
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  // A unique temp name: two writers of the same file never write into each other's temp file.
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) throw Error("cannot write '" + path + "' (temp file " + tmp + "): " + std::strerror(errno));
  ::fchmod(fd, 0644);  // mkstemp makes it 0600; a checkpoint is as readable as any other output
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error("writing '" + tmp + "' failed: " + std::strerror(e));
    }
    done += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    throw Error("flushing '" + tmp + "' failed: " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    throw Error("renaming '" + tmp + "' to '" + path + "' failed: " + std::strerror(e));
  }
  // Make the rename itself durable.
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  int dfd = ::open(dir.empty() ? "/" : dir.c_str(), O_RDONLY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t at = 0;
  std::vector<Tensor> contiguous;
  for (const auto& [name, t] : tensors) {  // std::map: sorted names, as the reference writer does
    Tensor c = t.to(Device::cpu).contiguous();  // a Device::cuda tensor is written from a host copy
    header[name] = {{"dtype", st_dtype(c.dtype())}, {"shape", c.shape()}, {"data_offsets", {at, at + c.nbytes()}}};
    at += c.nbytes();
    contiguous.push_back(c);
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // keep the data 8-byte aligned
  std::string bytes;
  bytes.reserve(8 + h.size() + at);
  uint64_t n = h.size();
  bytes.append(reinterpret_cast<const char*>(&n), 8);
  bytes += h;
  for (const Tensor& c : contiguous) bytes.append(static_cast<const char*>(c.raw_data()), c.nbytes());
  write_file_atomic(path, bytes);
}

void load_into(const nn::Module& m, const TensorMap& tensors, const std::string& what, bool allow_unexpected) {
  std::vector<nn::NamedParam> params = m.named_parameters();
  std::map<std::string, bool> known;
  for (const nn::NamedParam& p : params) {
    known[p.name] = true;
    auto it = tensors.find(p.name);
    if (it == tensors.end()) throw Error(what + ": missing parameter '" + p.name + "' " + p.var.value().str());
    const Tensor& src = it->second;
    if (src.shape() != p.var.shape())
      throw Error(what + ": parameter '" + p.name + "' has shape " + shape_str(src.shape()) + ", the model expects " +
                  shape_str(p.var.shape()));
    if (src.dtype() != DType::f32 && src.dtype() != DType::bf16 && src.dtype() != DType::f16)
      throw Error(what + ": parameter '" + p.name + "' has dtype " + dtype_name(src.dtype()) +
                  ", expected a floating type");
  }
  if (!allow_unexpected)
    for (const auto& [name, t] : tensors)
      if (!known.count(name)) throw Error(what + ": unexpected tensor '" + name + "' " + t.str() + " (not in the model)");
  for (const nn::NamedParam& p : params) p.var.mutable_value().copy_(tensors.at(p.name));
}

TensorMap state_dict(const nn::Module& m) {
  TensorMap out;
  for (const nn::NamedParam& p : m.named_parameters()) out.emplace(p.name, p.var.value());
  return out;
}

}  // namespace mapet::io
