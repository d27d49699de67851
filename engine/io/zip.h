// Read-only access to the entries of a ZIP archive (PKWARE APPNOTE), enough
// for the files torch.save writes: every entry is stored (not compressed),
// possibly with ZIP64 sizes and offsets for archives over 4 GiB. The file is
// memory-mapped, so an entry's bytes are a pointer into the mapping and
// reading a large checkpoint costs no extra copy.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mapet::io {

struct ZipEntry {
  std::string name;
  uint64_t size = 0;              // uncompressed (= stored) size
  uint64_t compressed_size = 0;
  uint64_t local_header = 0;      // offset of the entry's local header in the file
  uint32_t crc32 = 0;
  uint16_t method = 0;            // 0: stored; anything else is refused when read
};

class ZipArchive {
 public:
  // Throws Error naming the file when it is not a ZIP archive, is truncated
  // (the central directory at the end is missing or cut), or is inconsistent.
  explicit ZipArchive(const std::string& path);
  ~ZipArchive();
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const;  // nullptr when absent

  // The bytes of a stored entry, checked against the CRC-32 of the central
  // directory when verify is set. Throws Error naming the file and the entry.
  const uint8_t* data(const ZipEntry& e, bool verify = true) const;

 private:
  std::string path_;
  const uint8_t* map_ = nullptr;
  size_t size_ = 0;
  std::vector<ZipEntry> entries_;
};

uint32_t crc32(const uint8_t* p, size_t n);

}  // namespace mapet::io
