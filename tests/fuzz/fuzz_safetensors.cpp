// safetensors: header JSON, shapes, dtypes, offsets (engine/io/safetensors.cpp).
#include "engine/io/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mapet::fuzz::as_file(data, size, ".safetensors");
  mapet::fuzz::expect_error_or_success([&] { mapet::io::load_safetensors(path); });
  mapet::fuzz::expect_error_or_success([&] { mapet::io::safetensors_metadata(path); });
  return 0;
}
