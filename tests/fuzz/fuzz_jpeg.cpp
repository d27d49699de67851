// JPEG decoding and the timm transforms on it (data/jpeg.cpp, jpeg_region.cpp, transforms.cpp):
// the full decode, the region decode, and the train and eval pipelines.
#include "data/jpeg.h"
#include "data/jpeg_region.h"
#include "data/transforms.h"
#include "tests/fuzz/fuzz_util.h"

using namespace mapet;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Headers may claim up to the decoder's limit (178M pixels, tested elsewhere): decoding that much per
  // input would only slow the fuzzer down, so big claims stop after the header.
  data::JpegInfo info;
  try {
    info = data::read_jpeg_info(data, size, "fuzz.jpg");
  } catch (const Error&) {
    return 0;
  }
  if (int64_t(info.width) * info.height > 1 << 20) return 0;
  fuzz::expect_error_or_success([&] { const int denoms[4] = {1, 2, 4, 8};
    data::decode_jpeg(data, size, "fuzz.jpg", denoms[size % 4]); });
  fuzz::expect_error_or_success([&] {
    data::Image out;
    data::decode_jpeg_region_into(data, size, "fuzz.jpg", 1, data::Region{0, 0, info.width, info.height}, out);
  });
  data::TransformConfig cfg;
  cfg.size = 16;
  std::vector<float> out(3 * 16 * 16);
  for (data::Mode mode : {data::Mode::train, data::Mode::eval})
    fuzz::expect_error_or_success(
        [&] { data::transform_jpeg(data, size, "fuzz.jpg", cfg, mode, data::SampleRng(1, 0, size), out.data()); });
  return 0;
}
