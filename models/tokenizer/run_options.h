// Settings shared by the steps of a tokenize run (sampling, assignment,
// import): where outputs go, how images are loaded, how progress is shown.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace mapet::tokenizer {

struct RunOptions {
  std::string out;             // output folder
  int batch_size = 32;
  int workers = 0;             // decode threads; 0: one per core
  int64_t chunk_images = 4096; // images per resumable chunk (rounded up to whole batches)
  bool quiet = false;          // nothing on stdout or stderr (tests)
  // After each batch: (stage, images done, images in the stage); stage is
  // "sample" or a split's name. Images done counts from the stage's start,
  // resumed chunks included.
  std::function<void(const std::string& stage, int64_t done, int64_t total)> progress;
  // Tests: stop (throw) after writing this many chunks, as a kill would.
  int64_t stop_after_chunks = -1;
};

}  // namespace mapet::tokenizer
