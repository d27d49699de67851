#include "data/token_store.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "engine/checked.h"
#include "engine/tensor.h"

namespace mapet::data {

namespace {

constexpr char kMagic[8] = {'M', 'A', 'P', 'E', 'T', 'T', 'O', 'K'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 64;
constexpr uint32_t kMaxVocab = 65536;  // tokens are u16

// Checked: the count comes from the file, and a product that wraps could match the real size.
uint64_t file_bytes(const TokenStoreHeader& h, const std::string& what) {
  return checked_add(uint64_t{kHeaderBytes}, checked_mul(checked_mul(h.count, uint64_t{h.tokens_per_image}, what), uint64_t{2}, what), what);
}

std::string sys_error(const std::string& what, const std::string& path) {
  return what + " '" + path + "': " + std::strerror(errno);
}

}  // namespace

TokenStoreWriter::TokenStoreWriter(const std::string& path, const TokenStoreHeader& header)
    : path_(path), tmp_(path + ".tmp.XXXXXX"), h_(header) {
  if (h_.tokens_per_image == 0 || h_.vocab_size == 0 || h_.vocab_size > kMaxVocab)
    throw Error("token store '" + path + "': need P > 0 and a vocabulary of 1..65536 (u16 tokens), got P=" +
                std::to_string(h_.tokens_per_image) + ", vocabulary " + std::to_string(h_.vocab_size));
  bytes_ = file_bytes(h_, "token store '" + path + "'");
  fd_ = ::mkstemp(tmp_.data());  // a unique name: two writers of one store never share a temp file
  if (fd_ < 0) throw Error(sys_error("cannot create token store", tmp_));
  ::fchmod(fd_, 0644);
  if (::ftruncate(fd_, static_cast<off_t>(bytes_)) != 0) {
    ::close(fd_);
    throw Error(sys_error("cannot size token store", tmp_));
  }
  void* m = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (m == MAP_FAILED) {
    ::close(fd_);
    throw Error(sys_error("cannot map token store", tmp_));
  }
  map_ = static_cast<uint8_t*>(m);
  std::memcpy(map_, kMagic, 8);
  std::memcpy(map_ + 8, &kVersion, 4);
  std::memcpy(map_ + 12, &h_.tokens_per_image, 4);
  std::memcpy(map_ + 16, &h_.count, 8);
  std::memcpy(map_ + 24, &h_.vocab_size, 4);
  std::memcpy(map_ + 32, &h_.dataset_hash, 8);
}

TokenStoreWriter::~TokenStoreWriter() {
  if (map_) ::munmap(map_, bytes_);
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());  // not finished: leave nothing half-written behind
  }
}

void TokenStoreWriter::set(uint64_t index, const uint16_t* tokens) {
  if (!map_) throw Error("token store '" + path_ + "': set() after finish()");
  if (index >= h_.count)
    throw Error("token store '" + path_ + "': image " + std::to_string(index) + " is outside 0.." + std::to_string(h_.count - 1));
  for (uint32_t p = 0; p < h_.tokens_per_image; ++p)
    if (tokens[p] >= h_.vocab_size)
      throw Error("token store '" + path_ + "': token " + std::to_string(tokens[p]) + " of image " + std::to_string(index) +
                  " is outside the vocabulary of " + std::to_string(h_.vocab_size));
  std::memcpy(map_ + kHeaderBytes + index * h_.tokens_per_image * sizeof(uint16_t), tokens,
              h_.tokens_per_image * sizeof(uint16_t));
}

void TokenStoreWriter::finish() {
  if (!map_) return;
  if (::msync(map_, bytes_, MS_SYNC) != 0) throw Error(sys_error("cannot write token store", tmp_));
  ::munmap(map_, bytes_);
  map_ = nullptr;
  if (::fsync(fd_) != 0) throw Error(sys_error("cannot sync token store", tmp_));
  ::close(fd_);
  fd_ = -1;
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) throw Error(sys_error("cannot rename token store to", path_));
}

TokenStore::TokenStore(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw Error(sys_error("cannot open token store", path));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw Error(sys_error("cannot stat token store", path));
  }
  bytes_ = static_cast<size_t>(st.st_size);
  if (bytes_ < kHeaderBytes) {
    ::close(fd);
    throw Error("token store '" + path + "' is too short (" + std::to_string(bytes_) + " bytes) to hold a header");
  }
  void* m = ::mmap(nullptr, bytes_, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);  // the mapping keeps the file alive
  if (m == MAP_FAILED) throw Error(sys_error("cannot map token store", path));
  map_ = static_cast<const uint8_t*>(m);
  uint32_t version = 0;
  if (std::memcmp(map_, kMagic, 8) != 0) {
    ::munmap(const_cast<uint8_t*>(map_), bytes_);
    throw Error("'" + path + "' is not a mapet token store (bad magic)");
  }
  std::memcpy(&version, map_ + 8, 4);
  std::memcpy(&h_.tokens_per_image, map_ + 12, 4);
  std::memcpy(&h_.count, map_ + 16, 8);
  std::memcpy(&h_.vocab_size, map_ + 24, 4);
  std::memcpy(&h_.dataset_hash, map_ + 32, 8);
  std::string problem;
  if (version != kVersion) problem = "format version " + std::to_string(version) + " (this build reads 1)";
  else if (h_.tokens_per_image == 0 || h_.vocab_size == 0) problem = "an empty header (P or vocabulary is 0)";
  else if (h_.vocab_size > kMaxVocab)  // the writer's limit; a larger one would size the model's decoder
    problem = "a vocabulary of " + std::to_string(h_.vocab_size) + " in its header (at most " +
              std::to_string(kMaxVocab) + ": tokens are 16-bit; a damaged file)";
  else if (uint64_t need = 0; !mul_fits(h_.count, uint64_t{h_.tokens_per_image} * 2, need) ||
                              !add_fits(need, uint64_t{kHeaderBytes}, need))
    problem = "a header of " + std::to_string(h_.count) + " images x " + std::to_string(h_.tokens_per_image) +
              " tokens, more bytes than fit in 64 bits (a damaged file)";
  else if (bytes_ != need)
    problem = std::to_string(bytes_) + " bytes where its header (" + std::to_string(h_.count) + " images x " +
              std::to_string(h_.tokens_per_image) + " tokens) needs " + std::to_string(need) + " (truncated?)";
  if (!problem.empty()) {
    ::munmap(const_cast<uint8_t*>(map_), bytes_);
    throw Error("token store '" + path + "' has " + problem);
  }
}

TokenStore::~TokenStore() {
  if (map_) ::munmap(const_cast<uint8_t*>(map_), bytes_);
}

void TokenStore::check_matches(uint64_t dataset_hash, uint64_t count, const std::string& dataset_name,
                               int64_t tokens_per_image) const {
  if (h_.count != count)
    throw Error("token store '" + path_ + "' holds tokens for " + std::to_string(h_.count) + " images but dataset '" +
                dataset_name + "' has " + std::to_string(count) + ": it was made for another dataset; re-run `mapet tokenize`");
  if (h_.dataset_hash != dataset_hash)
    throw Error("token store '" + path_ + "' was made for a different file list than dataset '" + dataset_name +
                "' (list hash " + std::to_string(h_.dataset_hash) + " vs " + std::to_string(dataset_hash) +
                "): files were added, removed, renamed or relabelled; re-run `mapet tokenize`");
  if (tokens_per_image >= 0 && h_.tokens_per_image != static_cast<uint64_t>(tokens_per_image))
    throw Error("token store '" + path_ + "' has " + std::to_string(h_.tokens_per_image) +
                " tokens per image but the model needs " + std::to_string(tokens_per_image));
}

const uint16_t* TokenStore::row(uint64_t i) const {
  if (i >= h_.count)
    throw Error("token store '" + path_ + "': image " + std::to_string(i) + " is outside 0.." + std::to_string(h_.count - 1));
  const uint16_t* r = reinterpret_cast<const uint16_t*>(map_ + kHeaderBytes) + i * h_.tokens_per_image;
  for (uint32_t p = 0; p < h_.tokens_per_image; ++p)
    if (r[p] >= h_.vocab_size)
      throw Error("token store '" + path_ + "' is damaged: image " + std::to_string(i) + " has token " +
                  std::to_string(r[p]) + ", outside the vocabulary of " + std::to_string(h_.vocab_size));
  return r;
}

}  // namespace mapet::data
