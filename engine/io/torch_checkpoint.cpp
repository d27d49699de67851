#include "engine/io/torch_checkpoint.h"

#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "engine/checked.h"

namespace mapet::io {

namespace {

using pickle::Value;
using pickle::ValuePtr;

// torch.save of PyTorch < 1.6 starts with a protocol-2 pickle of the magic
// number 0x1950a86a20f9469cfc6c (PROTO 2, LONG1 of 10 bytes).
constexpr uint8_t kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

const std::string& refuse_legacy(const std::string& path) {
  if (is_legacy_torch_file(path))
    throw Error("'" + path +
                "' is a legacy torch.save file (PyTorch < 1.6 or _use_new_zipfile_serialization=False), which is not "
                "supported; re-save it with a recent PyTorch: torch.save(torch.load(f, map_location='cpu'), g)");
  return path;
}

// The archive's top folder: torch.save names it after the file (or "archive").
std::string find_prefix(const ZipArchive& zip) {
  for (const ZipEntry& e : zip.entries()) {
    const size_t slash = e.name.find('/');
    if (slash != std::string::npos && e.name.compare(slash, std::string::npos, "/data.pkl") == 0)
      return e.name.substr(0, slash + 1);
  }
  throw Error("'" + zip.path() + "' is a ZIP archive but not a torch.save checkpoint (it has no <name>/data.pkl)");
}

struct StorageType {
  DType dtype;
  size_t element_size;
};

bool storage_type(const std::string& global, StorageType& t) {
  static const std::map<std::string, StorageType> types{
      {"torch.FloatStorage", {DType::f32, 4}}, {"torch.HalfStorage", {DType::f16, 2}},
      {"torch.BFloat16Storage", {DType::bf16, 2}}, {"torch.LongStorage", {DType::i64, 8}},
      {"torch.IntStorage", {DType::i32, 4}},   {"torch.ByteStorage", {DType::u8, 1}},
      {"torch.BoolStorage", {DType::u8, 1}}};
  auto it = types.find(global);
  if (it == types.end()) return false;
  t = it->second;
  return true;
}

// What torch.load(weights_only=True) accepts (torch/_weights_only_unpickler.py), and what
// training scripts store beside the weights (timm/DeiT/BEiT save argparse args and numpy scalars).
bool allowed_global(const std::string& g) {
  static const std::set<std::string> names{
      "collections.OrderedDict", "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
      "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state", "torch.Size",
      "torch.device", "torch.nn.parameter.Parameter", "torch.serialization._get_layout", "builtins.set",
      "builtins.frozenset", "builtins.bytearray", "argparse.Namespace", "numpy.core.multiarray.scalar",
      "numpy.core.multiarray._reconstruct", "numpy.dtype", "numpy.ndarray", "_codecs.encode"};
  if (names.count(g)) return true;
  const bool storage = g.rfind("torch.", 0) == 0 && g.size() > 13 && g.compare(g.size() - 7, 7, "Storage") == 0;
  static const std::set<std::string> dtypes{"torch.float32", "torch.float16", "torch.bfloat16", "torch.float64",
                                            "torch.int64",   "torch.int32",   "torch.int16",    "torch.int8",
                                            "torch.uint8",   "torch.bool",    "torch.float",    "torch.half",
                                            "torch.long",    "torch.int",     "torch.double"};
  return storage || dtypes.count(g);
}

// Modules whose globals run commands, code or imports: in a checkpoint they can only be an attack.
bool code_running_global(const std::string& g) {
  static const std::set<std::string> modules{"os",    "posix",   "nt",      "subprocess", "sys",      "shutil",
                                             "socket", "pty",    "runpy",   "importlib",  "code",     "codeop",
                                             "marshal", "ctypes", "pickle", "webbrowser", "commands", "platform",
                                             "multiprocessing", "types", "operator", "functools", "timeit", "pdb"};
  static const std::set<std::string> builtins{"eval", "exec", "compile", "open", "getattr", "setattr", "delattr",
                                              "__import__", "globals", "locals", "vars", "input", "breakpoint", "apply",
                                              "execfile"};
  const size_t dot = g.find('.');
  const std::string module = g.substr(0, dot), name = dot == std::string::npos ? "" : g.substr(dot + 1);
  if (modules.count(module)) return true;
  return (module == "builtins" || module == "__builtin__") && builtins.count(name);
}

bool is_call_of(const ValuePtr& v, const char* fn) {
  return v && v->is(Value::Kind::object) && v->callable && v->callable->is_global(fn);
}

// Copies the strided view (sizes, strides in elements) starting at src into dst, densely.
void gather(const uint8_t* src, uint8_t* dst, const Shape& size, const Shape& stride, size_t es) {
  const int64_t nd = static_cast<int64_t>(size.size());
  if (nd == 0) {
    std::memcpy(dst, src, es);
    return;
  }
  const int64_t inner = size[nd - 1], inner_stride = stride[nd - 1];
  std::vector<int64_t> idx(nd - 1, 0);
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < nd; ++d) rows *= size[d];
  for (int64_t r = 0; r < rows; ++r) {
    int64_t off = 0;
    for (int64_t d = 0; d + 1 < nd; ++d) off += idx[d] * stride[d];
    const uint8_t* s = src + off * static_cast<int64_t>(es);
    if (inner_stride == 1) {
      std::memcpy(dst, s, static_cast<size_t>(inner) * es);
    } else {
      for (int64_t i = 0; i < inner; ++i) std::memcpy(dst + i * es, s + i * inner_stride * es, es);
    }
    dst += inner * es;
    for (int64_t d = nd - 2; d >= 0 && ++idx[d] == size[d]; --d) idx[d] = 0;  // odometer over the outer dims
  }
}

}  // namespace

bool is_legacy_torch_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  uint8_t head[sizeof kLegacyMagic] = {};
  if (!f.read(reinterpret_cast<char*>(head), sizeof head)) return false;
  return std::memcmp(head, kLegacyMagic, sizeof head) == 0;
}

TorchCheckpoint::TorchCheckpoint(const std::string& path) : zip_(refuse_legacy(path)), prefix_(find_prefix(zip_)) {
  if (const ZipEntry* bo = zip_.find(prefix_ + "byteorder")) {
    std::string order(reinterpret_cast<const char*>(zip_.data(*bo)), bo->size);
    if (order != "little") throw Error("'" + path + "': byte order '" + order + "' is not supported (only little)");
  }
  const ZipEntry& pkl = *zip_.find(prefix_ + "data.pkl");
  const std::string what = "'" + path + "', entry '" + pkl.name + "'";
  std::vector<pickle::GlobalRef> globals;
  root_ = pickle::load(zip_.data(pkl), pkl.size, what, &globals);
  std::set<std::string> seen;
  for (const pickle::GlobalRef& g : globals) {
    if (allowed_global(g.name) || !seen.insert(g.name).second) continue;
    const std::string where = what + " byte " + std::to_string(g.offset);
    if (code_running_global(g.name))
      throw Error(where + ": refers to " + g.name +
                  ", which runs code: this is not a plain checkpoint and may be malicious (it was not run)");
    warnings_.push_back(where + ": refers to " + g.name +
                        ", outside what torch.load(weights_only=True) accepts (read as data, not run)");
  }
}

bool TorchCheckpoint::is_tensor(const ValuePtr& v) {
  return is_call_of(v, "torch._utils._rebuild_tensor_v2") || is_call_of(v, "torch._utils._rebuild_tensor") ||
         is_call_of(v, "torch._utils._rebuild_parameter") ||
         is_call_of(v, "torch._utils._rebuild_parameter_with_state");
}

Tensor TorchCheckpoint::tensor(const ValuePtr& v, const std::string& name) const {
  auto fail = [&](const std::string& why) { return Error("'" + path() + "', tensor '" + name + "': " + why); };
  ValuePtr t = v;
  // nn.Parameter: _rebuild_parameter(data, requires_grad, backward_hooks[, state]); one level in torch.save files.
  for (int level = 0; is_call_of(t, "torch._utils._rebuild_parameter") ||
                      is_call_of(t, "torch._utils._rebuild_parameter_with_state");
       ++level) {
    if (t->items.empty()) throw fail("parameter without data");
    if (level == 2) throw fail("parameters nested in parameters");
    t = t->items[0];
  }
  if (!is_tensor(t)) throw fail("is " + (t ? t->describe() : std::string("nothing")) + ", not a tensor");
  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]).
  const std::vector<ValuePtr>& a = t->items;
  auto ints = [&](const ValuePtr& t, const char* what) {
    if (!t || !t->is(Value::Kind::tuple)) throw fail(std::string(what) + " is not a tuple");
    Shape s;
    for (const ValuePtr& x : t->items) {
      if (!x->is(Value::Kind::integer) || x->integer < 0) throw fail(std::string("bad ") + what + " entry " + x->describe());
      s.push_back(x->integer);
    }
    return s;
  };
  if (a.size() < 4 || !a[0]->is(Value::Kind::persistent) || !a[1]->is(Value::Kind::integer))
    throw fail("unexpected arguments to " + t->callable->text);
  const Shape size = ints(a[2], "size"), stride = ints(a[3], "stride");
  const int64_t offset = a[1]->integer;
  if (size.size() != stride.size()) throw fail("size and stride have different lengths");

  // The storage's persistent id: ('storage', torch.<Type>Storage, key, location, numel).
  const ValuePtr& pid = a[0]->items[0];
  if (!pid->is(Value::Kind::tuple) || pid->items.size() < 5 || !pid->items[0]->is(Value::Kind::string) ||
      pid->items[0]->text != "storage" || !pid->items[1]->is(Value::Kind::global) ||
      !pid->items[2]->is(Value::Kind::string) || !pid->items[4]->is(Value::Kind::integer))
    throw fail("unrecognised storage persistent id " + pid->describe());
  StorageType st{};
  if (!storage_type(pid->items[1]->text, st))
    throw fail("storage type " + pid->items[1]->text + " is not supported (f32, f16, bf16, i64, i32, u8, bool are)");
  const std::string& key = pid->items[2]->text;
  const int64_t storage_numel = pid->items[4]->integer;

  const ZipEntry* e = zip_.find(prefix_ + "data/" + key);
  if (!e) throw fail("its storage '" + prefix_ + "data/" + key + "' is missing from the archive");
  // Checked: a numel of 2^62 times 4 bytes wraps to 0 and would match an empty entry.
  int64_t storage_bytes = 0;
  if (storage_numel < 0 || !mul_fits(storage_numel, static_cast<int64_t>(st.element_size), storage_bytes) ||
      e->size != static_cast<uint64_t>(storage_bytes))
    throw fail("storage '" + e->name + "' holds " + std::to_string(e->size) + " bytes, expected " +
               std::to_string(storage_numel) + " elements of " + std::to_string(st.element_size) + " bytes");
  // The view must stay inside its storage (strides are non-negative in PyTorch); the arithmetic is
  // overflow-checked because the numbers come from the file.
  int64_t last = offset, numel = 1;
  bool overflow = false;
  for (size_t d = 0; d < size.size(); ++d) {
    int64_t step = 0;
    overflow |= __builtin_mul_overflow(size[d] == 0 ? 0 : size[d] - 1, stride[d], &step);
    overflow |= __builtin_add_overflow(last, step, &last);
    overflow |= __builtin_mul_overflow(numel, size[d], &numel);
  }
  const bool empty = numel == 0;
  if (overflow || offset < 0 || (!empty && last >= storage_numel))
    throw fail("view (offset " + std::to_string(offset) + ", size " + shape_str(size) + ", stride " +
               shape_str(stride) + ") reaches outside its storage of " + std::to_string(storage_numel) + " elements");

  Tensor out = Tensor::empty(size, st.dtype);
  if (empty) return out;
  // Views often share a storage: check its CRC once.
  const bool verify = verified_.insert(e->name).second;
  const uint8_t* base = zip_.data(*e, verify) + static_cast<size_t>(offset) * st.element_size;
  gather(base, static_cast<uint8_t*>(out.raw_data()), size, stride, st.element_size);
  return out;
}

}  // namespace mapet::io
