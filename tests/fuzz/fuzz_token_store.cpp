// Token stores (data/token_store.cpp): header, sizes, every row's tokens.
#include "data/token_store.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mapet::fuzz::as_file(data, size, ".tokens");
  mapet::fuzz::expect_error_or_success([&] {
    mapet::data::TokenStore s(path);
    const uint64_t n = s.header().count;
    for (uint64_t i = 0; i < n && i < 4096; ++i) mapet::fuzz::expect_error_or_success([&] { s.row(i); });
    s.check_matches(0, n, "fuzz");
  });
  return 0;
}
