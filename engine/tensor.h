// Tensor: a typed, shaped view into reference-counted storage.
// Views (reshape of contiguous data, slice, transpose) share storage; everything
// that computes returns fresh contiguous tensors. Strides are in elements.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/dtype.h"

namespace mapet {

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);  // "[2, 3, 4]"
int64_t shape_numel(const Shape& s);

// Every failure the engine reports is an Error with a message that names the
// tensor, file or flag at fault.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Storage {
  void* data = nullptr;
  size_t bytes = 0;
  Device device = Device::cpu;
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

class Tensor {
 public:
  Tensor() = default;

  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor full(const Shape& shape, float value);
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape);
  static Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape);
  static Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype(), t.device()); }
  static Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return shape_numel(shape_); }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device : Device::cpu; }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool is_contiguous() const;
  bool shares_storage(const Tensor& o) const { return storage_ == o.storage_; }
  long storage_use_count() const { return storage_.use_count(); }

  template <class T> T* data() const {
    check_dtype(dtype_of<T>::value, "data<T>()");
    return static_cast<T*>(raw_data());
  }
  void* raw_data() const;  // address of element 0 of this view

  // Views.
  Tensor view(const Shape& shape) const;  // contiguous only; one dim may be -1
  Tensor slice(int64_t d, int64_t start, int64_t end) const;
  Tensor select(int64_t d, int64_t index) const;  // drops dimension d
  Tensor transpose(int64_t a, int64_t b) const;
  Tensor unsqueeze(int64_t d) const;
  Tensor permute(const std::vector<int64_t>& dims) const;

  // Copies.
  Tensor contiguous() const;  // itself when already contiguous
  Tensor clone() const;
  Tensor to(DType dtype) const;  // f32 <-> bf16/f16, ints <-> f32
  Tensor to(Device device) const;  // itself when already there; a contiguous copy otherwise
  // Same shape; any strides; converts dtype (on the host). On cuda: the same
  // dtype, any strides (cuda::copy_strided); between devices: the same dtype,
  // contiguous on both sides (one cudaMemcpyAsync).
  void copy_(const Tensor& src);
  void fill_(float value);
  void zero_();

  // Element access for tests and small host code (slow; any strides; a cuda
  // tensor is copied to the host first).
  float item() const;
  float at(std::initializer_list<int64_t> idx) const;
  std::vector<float> to_vector() const;  // f32 copy in row-major order
  std::string str() const;  // "f32[2, 3]"

  void check_dtype(DType want, const char* what) const;

 private:
  std::shared_ptr<Storage> storage_;
  int64_t offset_ = 0;
  Shape shape_;
  Shape strides_;
  DType dtype_ = DType::f32;
};

Shape contiguous_strides(const Shape& shape);

}  // namespace mapet
