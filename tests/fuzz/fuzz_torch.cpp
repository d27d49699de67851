// torch.save checkpoints (engine/io/zip.cpp, pickle.cpp, torch_checkpoint.cpp, state_dict.cpp).
// An input that starts like a ZIP is read as the whole file; any other input is
// taken as the pickle (data.pkl) of an archive made around it, with correct
// CRCs and a storage "0" of 64 bytes, so that mutations reach the unpickler and
// the tensor views instead of stopping at a checksum.
#include "engine/io/state_dict.h"
#include "tests/engine/torch_bytes.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (bytes.rfind("PK\x03\x04", 0) != 0) bytes = mapet::test::torch_file(bytes, {{"0", std::string(64, '\x01')}});
  const std::string path = mapet::fuzz::as_file(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), ".pth");
  mapet::fuzz::expect_error_or_success([&] { mapet::io::load_weights(path); });
  mapet::fuzz::expect_error_or_success([&] { mapet::io::load_weights(path, /*use_ema=*/true); });
  return 0;
}
