// A dataset CSV of path,label (data/dataset.cpp).
#include "data/dataset.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mapet::fuzz::as_file(data, size, ".csv");
  mapet::fuzz::expect_error_or_success([&] {
    mapet::data::Dataset d = mapet::data::load_csv(path, "/nonexistent");
    if (d.num_classes() < 1 || d.num_classes() > mapet::data::kMaxClasses) std::abort();
    d.file_list_hash();
  });
  return 0;
}
