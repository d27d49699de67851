// Element types a Tensor can hold.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace mapet {

enum class DType : uint8_t { f32, bf16, f16, i32, i64, u8 };
enum class Device : uint8_t { cpu, cuda };

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "f32", "bf16", ...
const char* device_name(Device d);

// Maps a C++ type to its DType, for Tensor::data<T>() checks.
template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::u8; };
// bf16 and f16 are both 16-bit: read them as uint16_t through raw_data().

}  // namespace mapet
