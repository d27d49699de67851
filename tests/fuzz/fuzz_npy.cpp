// .npy (tokenize --import, centroids): magic, header dict, shape, dtype (engine/io/npy.cpp).
#include "engine/io/npy.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mapet::fuzz::as_file(data, size, ".npy");
  mapet::fuzz::expect_error_or_success([&] { mapet::io::read_npy_info(path); });
  mapet::fuzz::expect_error_or_success([&] { mapet::io::load_npy(path); });
  return 0;
}
