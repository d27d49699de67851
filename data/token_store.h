// Token store: the visual tokens of a dataset, one row of P u16 per image in
// dataset order, in a memory-mapped file (the OS pages rows in and out, so any
// dataset size works with bounded memory).
//
// File layout (little-endian):
//   0  char[8]  magic "MAPETTOK"
//   8  u32      format version (1)
//   12 u32      P, tokens per image
//   16 u64      count, images
//   24 u32      vocabulary size (every token < it)
//   28 u32      reserved (0)
//   32 u64      hash of the dataset's file list (Dataset::file_list_hash)
//   40 ...      zero padding to 64 bytes
//   64 u16[count][P]
#pragma once
#include <cstdint>
#include <string>

namespace mapet::data {

struct TokenStoreHeader {
  uint64_t count = 0;
  uint32_t tokens_per_image = 0;
  uint32_t vocab_size = 0;
  uint64_t dataset_hash = 0;
};

// Writes rows in any order (from several threads, each row once), then
// finish() makes the file appear atomically (temp file, fsync, rename).
// Rows never written read as zero; a writer destroyed without finish() leaves
// no file behind.
class TokenStoreWriter {
 public:
  TokenStoreWriter(const std::string& path, const TokenStoreHeader& header);
  ~TokenStoreWriter();
  TokenStoreWriter(const TokenStoreWriter&) = delete;
  TokenStoreWriter& operator=(const TokenStoreWriter&) = delete;

  // tokens: P values, each < vocab_size (checked).
  void set(uint64_t index, const uint16_t* tokens);
  void finish();

 private:
  std::string path_, tmp_;
  TokenStoreHeader h_;
  int fd_ = -1;
  uint8_t* map_ = nullptr;
  size_t bytes_ = 0;
};

class TokenStore {
 public:
  // Maps the file and checks the header; throws Error naming the file.
  explicit TokenStore(const std::string& path);
  ~TokenStore();
  TokenStore(const TokenStore&) = delete;
  TokenStore& operator=(const TokenStore&) = delete;

  const TokenStoreHeader& header() const { return h_; }
  const std::string& path() const { return path_; }
  // Refuses (Error) a store made for another file list, or with another
  // number of images or tokens per image than expected.
  void check_matches(uint64_t dataset_hash, uint64_t count, const std::string& dataset_name,
                     int64_t tokens_per_image = -1) const;
  // The P tokens of image i (pointer into the mapping). Throws Error naming the
  // file when a token is outside the vocabulary (a damaged file).
  const uint16_t* row(uint64_t i) const;

 private:
  std::string path_;
  TokenStoreHeader h_;
  const uint8_t* map_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace mapet::data
