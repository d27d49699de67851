#include "engine/tensor.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "engine/allocator.h"
#include "engine/backend.h"
#include "engine/checked.h"
#include "engine/cuda/allocator.h"
#include "engine/cuda/runtime.h"
#include "engine/half.h"
#include "kernels/common/bf16.h"
#include "kernels/cpu/copy.h"
#include "kernels/cuda/copy.cuh"

namespace mapet {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: case DType::i32: return 4;
    case DType::bf16: case DType::f16: return 2;
    case DType::i64: return 8;
    case DType::u8: return 1;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::bf16: return "bf16";
    case DType::f16: return "f16";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
    case DType::u8: return "u8";
  }
  return "?";
}

const char* device_name(Device d) { return d == Device::cpu ? "cpu" : "cuda"; }

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ']';
  return os.str();
}

// Shapes can come from files: a product that overflows is an error, never a wrapped-around size.
int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s)
    if (!mul_fits(n, d, n)) throw Error("shape " + shape_str(s) + " has more elements than fit in 64 bits");
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    st[i] = s;
    if (!mul_fits(s, shape[i], s)) throw Error("shape " + shape_str(shape) + " has more elements than fit in 64 bits");
  }
  return st;
}

Storage::Storage(size_t n, Device dev) : bytes(n), device(dev) {
  if (dev == Device::cuda) {  // the caching device allocator; its errors name the sizes
    data = device::allocate(n, device::current_stream());
    return;
  }
  try {
    data = host_alloc(std::max<size_t>(n, 1));
  } catch (const std::bad_alloc&) {
    char gib[32];
    std::snprintf(gib, sizeof gib, "%.1f", double(n) / double(1ull << 30));
    throw Error("out of memory: cannot allocate " + std::to_string(n) + " bytes (" + gib + " GiB)");
  }
}

Storage::~Storage() {
  if (device == Device::cuda) device::deallocate(data);  // reused in stream order: queued kernels still see it
  else host_free(data, std::max<size_t>(bytes, 1));
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  const int64_t n = checked_numel(shape, dtype_size(dtype), "Tensor::empty");
  Tensor t;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  try {
    t.storage_ = std::make_shared<Storage>(static_cast<size_t>(n) * dtype_size(dtype), device);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " for a tensor " + dtype_name(dtype) + shape_str(shape));
  }
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.zero_();
  return t;
}

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  t.fill_(value);
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape) {
  if (static_cast<int64_t>(values.size()) != shape_numel(shape))
    throw Error("Tensor::from_vector: " + std::to_string(values.size()) + " values for shape " + shape_str(shape));
  Tensor t = empty(shape);
  std::memcpy(t.raw_data(), values.data(), values.size() * 4);
  return t;
}

Tensor Tensor::from_vector(const std::vector<int64_t>& values, const Shape& shape) {
  if (static_cast<int64_t>(values.size()) != shape_numel(shape))
    throw Error("Tensor::from_vector: " + std::to_string(values.size()) + " values for shape " + shape_str(shape));
  Tensor t = empty(shape, DType::i64);
  std::memcpy(t.raw_data(), values.data(), values.size() * 8);
  return t;
}

int64_t Tensor::size(int64_t d) const {
  int64_t n = dim();
  if (d < 0) d += n;
  if (d < 0 || d >= n) throw Error("Tensor::size: dim " + std::to_string(d) + " out of range for " + str());
  return shape_[d];
}

bool Tensor::is_contiguous() const { return strides_ == contiguous_strides(shape_) || numel() <= 1; }

void* Tensor::raw_data() const {
  if (!storage_) throw Error("use of an undefined tensor");
  return static_cast<char*>(storage_->data) + offset_ * static_cast<int64_t>(dtype_size(dtype_));
}

void Tensor::check_dtype(DType want, const char* what) const {
  if (dtype_ != want)
    throw Error(std::string(what) + ": expected " + dtype_name(want) + ", got tensor " + str());
}

std::string Tensor::str() const {
  return std::string(dtype_name(dtype_)) + shape_str(shape_) + (device() == Device::cpu ? "" : " (cuda)");
}

Tensor Tensor::view(const Shape& shape) const {
  if (!is_contiguous()) throw Error("Tensor::view of a non-contiguous tensor " + str() + "; call contiguous() first");
  Shape s = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      if (infer >= 0) throw Error("Tensor::view: more than one -1 in " + shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) s[infer] = known ? numel() / known : 0;
  if (shape_numel(s) != numel()) throw Error("Tensor::view: cannot view " + str() + " as " + shape_str(shape));
  Tensor t = *this;
  t.shape_ = s;
  t.strides_ = contiguous_strides(s);
  return t;
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end) const {
  if (d < 0) d += dim();
  if (d < 0 || d >= dim() || start < 0 || end > shape_[d] || start > end)
    throw Error("Tensor::slice(" + std::to_string(d) + ", " + std::to_string(start) + ", " + std::to_string(end) +
                ") out of range for " + str());
  Tensor t = *this;
  t.offset_ += start * strides_[d];
  t.shape_[d] = end - start;
  return t;
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  if (d < 0) d += dim();
  Tensor t = slice(d, index, index + 1);
  t.shape_.erase(t.shape_.begin() + d);
  t.strides_.erase(t.strides_.begin() + d);
  return t;
}

Tensor Tensor::transpose(int64_t a, int64_t b) const {
  if (a < 0) a += dim();
  if (b < 0) b += dim();
  if (a < 0 || b < 0 || a >= dim() || b >= dim()) throw Error("Tensor::transpose: bad dims for " + str());
  Tensor t = *this;
  std::swap(t.shape_[a], t.shape_[b]);
  std::swap(t.strides_[a], t.strides_[b]);
  return t;
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  if (static_cast<int64_t>(dims.size()) != dim()) throw Error("Tensor::permute: wrong number of dims for " + str());
  Tensor t = *this;
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = dims[i] < 0 ? dims[i] + dim() : dims[i];
    if (d < 0 || d >= dim() || seen[d]) throw Error("Tensor::permute: bad permutation for " + str());
    seen[d] = true;
    t.shape_[i] = shape_[d];
    t.strides_[i] = strides_[d];
  }
  return t;
}

Tensor Tensor::unsqueeze(int64_t d) const {
  if (d < 0) d += dim() + 1;
  Tensor t = *this;
  int64_t st = d < dim() ? strides_[d] * shape_[d] : 1;
  t.shape_.insert(t.shape_.begin() + d, 1);
  t.strides_.insert(t.strides_.begin() + d, st);
  return t;
}

namespace {

float load_as_float(const void* base, DType t, int64_t i) {
  switch (t) {
    case DType::f32: return static_cast<const float*>(base)[i];
    case DType::bf16: return common::bf16_to_float(static_cast<const uint16_t*>(base)[i]);
    case DType::f16: return half_to_float(static_cast<const uint16_t*>(base)[i]);
    case DType::i32: return static_cast<float>(static_cast<const int32_t*>(base)[i]);
    case DType::i64: return static_cast<float>(static_cast<const int64_t*>(base)[i]);
    case DType::u8: return static_cast<float>(static_cast<const uint8_t*>(base)[i]);
  }
  return 0;
}

void store_from_float(void* base, DType t, int64_t i, float v) {
  switch (t) {
    case DType::f32: static_cast<float*>(base)[i] = v; break;
    case DType::bf16: static_cast<uint16_t*>(base)[i] = common::float_to_bf16(v); break;
    case DType::f16: static_cast<uint16_t*>(base)[i] = float_to_half(v); break;
    case DType::i32: static_cast<int32_t*>(base)[i] = static_cast<int32_t>(v); break;
    case DType::i64: static_cast<int64_t*>(base)[i] = static_cast<int64_t>(v); break;
    case DType::u8: static_cast<uint8_t*>(base)[i] = static_cast<uint8_t>(v); break;
  }
}

// Calls fn(dst_offset, src_offset) for every element in row-major order of shape.
template <class F>
void for_each_strided(const Shape& shape, const Shape& dst_st, const Shape& src_st, F fn) {
  int64_t n = shape_numel(shape);
  if (n == 0) return;
  size_t nd = shape.size();
  std::vector<int64_t> idx(nd, 0);
  int64_t d_off = 0, s_off = 0;
  for (int64_t k = 0; k < n; ++k) {
    fn(d_off, s_off);
    for (size_t ax = nd; ax-- > 0;) {
      if (++idx[ax] < shape[ax]) {
        d_off += dst_st[ax];
        s_off += src_st[ax];
        break;
      }
      d_off -= dst_st[ax] * (shape[ax] - 1);
      s_off -= src_st[ax] * (shape[ax] - 1);
      idx[ax] = 0;
    }
  }
}

}  // namespace

void Tensor::copy_(const Tensor& src) {
  if (src.shape_ != shape_) throw Error("Tensor::copy_: shape " + src.str() + " into " + str());
  if (device() == Device::cuda && src.device() == Device::cuda && src.dtype_ == dtype_ &&
      (!is_contiguous() || !src.is_contiguous())) {  // views of device memory: the strided copy kernel
    void* d = raw_data();
    const void* sp = src.raw_data();
    backend::cuda_call("copy_strided", [&] {
      cuda::copy_strided(d, strides_.data(), sp, src.strides_.data(), shape_.data(), static_cast<int>(dim()),
                         dtype_size(dtype_), device::current_stream());
    });
    return;
  }
  if (device() == Device::cuda || src.device() == Device::cuda) {
    if (src.dtype_ != dtype_ || !is_contiguous() || !src.is_contiguous())
      throw Error("Tensor::copy_: " + src.str() + " on " + device_name(src.device()) + " into " + str() + " on " +
                  device_name(device()) + ": between devices a copy needs the same dtype and contiguous tensors (on cuda: the same dtype)");
    if (nbytes() == 0) return;
    void* s = device::current_stream();
    if (src.device() == Device::cpu) device::copy_to_device(raw_data(), src.raw_data(), nbytes(), s, "Tensor::copy_");
    else if (device() == Device::cpu) device::copy_to_host(raw_data(), src.raw_data(), nbytes(), s, "Tensor::copy_");
    else device::copy_on_device(raw_data(), src.raw_data(), nbytes(), s, "Tensor::copy_");
    return;
  }
  if (src.dtype_ == dtype_ && is_contiguous() && src.is_contiguous()) {
    std::memmove(raw_data(), src.raw_data(), nbytes());
    return;
  }
  void* d = raw_data();
  const void* s = src.raw_data();
  size_t es = dtype_size(dtype_);
  if (src.dtype_ == dtype_) {
    cpu::copy_strided(d, strides_.data(), s, src.strides_.data(), shape_.data(), static_cast<int>(dim()), es);
  } else if (dtype_ == DType::i64 && (src.dtype_ == DType::i32 || src.dtype_ == DType::u8)) {
    for_each_strided(shape_, strides_, src.strides_, [&](int64_t dof, int64_t sof) {
      static_cast<int64_t*>(d)[dof] = static_cast<int64_t>(load_as_float(s, src.dtype_, sof));
    });
  } else {
    for_each_strided(shape_, strides_, src.strides_, [&](int64_t dof, int64_t sof) {
      store_from_float(d, dtype_, dof, load_as_float(s, src.dtype_, sof));
    });
  }
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, dtype_, device());
  t.copy_(*this);
  return t;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  if (device() != Device::cpu)
    throw Error("Tensor::to(" + std::string(dtype_name(dtype)) + ") of " + str() +
                " on cuda: dtype conversions on the device go through the bf16 kernels (ops), not here");
  Tensor t = empty(shape_, dtype);
  t.copy_(*this);
  return t;
}

Tensor Tensor::to(Device device) const {
  if (device == this->device()) return *this;
  if (device == Device::cpu && !is_contiguous()) {
    // A strided view of device memory: copy the span it covers, keep its strides on the host, then compact there.
    int64_t span = 1;
    for (size_t i = 0; i < shape_.size(); ++i) {
      if (shape_[i] == 0) return empty(shape_, dtype_);
      if (strides_[i] < 0) throw Error("Tensor::to(cpu) of " + str() + ": negative strides");
      span += (shape_[i] - 1) * strides_[i];
    }
    Tensor h = empty({span}, dtype_);
    device::copy_to_host(h.raw_data(), raw_data(), static_cast<size_t>(span) * dtype_size(dtype_),
                         device::current_stream(), "Tensor::to(cpu)");
    h.shape_ = shape_;
    h.strides_ = strides_;
    return h.contiguous();
  }
  Tensor src = device == Device::cuda ? contiguous() : *this;  // strided host views are made contiguous first
  Tensor t = empty(shape_, dtype_, device);
  t.copy_(src);
  return t;
}

void Tensor::fill_(float value) {
  if (device() != Device::cpu) {
    if (value == 0.0f) return zero_();
    throw Error("Tensor::fill_(" + std::to_string(value) + ") of " + str() +
                " on cuda: no fill kernel; make it on the host and copy it with to(Device::cuda)");
  }
  if (dtype_ == DType::f32 && is_contiguous()) {
    float* p = data<float>();
    std::fill(p, p + numel(), value);
    return;
  }
  void* d = raw_data();
  for_each_strided(shape_, strides_, strides_, [&](int64_t dof, int64_t) { store_from_float(d, dtype_, dof, value); });
}

void Tensor::zero_() {
  if (device() != Device::cpu) {
    if (!is_contiguous()) throw Error("Tensor::zero_ of a strided cuda view " + str() + ": no strided device kernel");
    if (nbytes()) device::zero(raw_data(), nbytes(), device::current_stream(), "Tensor::zero_");
    return;
  }
  if (is_contiguous()) {
    std::memset(raw_data(), 0, nbytes());
    return;
  }
  fill_(0.0f);
}

float Tensor::item() const {
  if (numel() != 1) throw Error("Tensor::item on " + str());
  if (device() != Device::cpu) return to(Device::cpu).item();
  return load_as_float(raw_data(), dtype_, 0);
}

float Tensor::at(std::initializer_list<int64_t> idx) const {
  if (static_cast<int64_t>(idx.size()) != dim()) throw Error("Tensor::at: wrong number of indices for " + str());
  if (device() != Device::cpu) return to(Device::cpu).at(idx);
  int64_t off = 0, ax = 0;
  for (int64_t i : idx) {
    if (i < 0 || i >= shape_[ax]) throw Error("Tensor::at: index out of range for " + str());
    off += i * strides_[ax++];
  }
  return load_as_float(raw_data(), dtype_, off);
}

std::vector<float> Tensor::to_vector() const {
  if (device() != Device::cpu) return to(Device::cpu).to_vector();
  std::vector<float> out(static_cast<size_t>(numel()));
  const void* s = raw_data();
  int64_t k = 0;
  for_each_strided(shape_, strides_, strides_, [&](int64_t, int64_t sof) { out[k++] = load_as_float(s, dtype_, sof); });
  return out;
}

}  // namespace mapet
