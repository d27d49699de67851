#include "engine/io/zip.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "engine/tensor.h"

namespace mapet::io {

namespace {

// Record signatures and fixed sizes from the APPNOTE.
constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr uint32_t kEnd64Sig = 0x06064b50, kEnd64LocatorSig = 0x07064b50;
constexpr size_t kLocalSize = 30, kCentralSize = 46, kEndSize = 22, kEnd64LocatorSize = 20, kEnd64Size = 56;
constexpr uint16_t kZip64ExtraTag = 0x0001;

// ZIP is little-endian throughout; these read unaligned fields.
uint16_t u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
uint32_t u32(const uint8_t* p) { return static_cast<uint32_t>(u16(p)) | static_cast<uint32_t>(u16(p + 2)) << 16; }
uint64_t u64(const uint8_t* p) { return static_cast<uint64_t>(u32(p)) | static_cast<uint64_t>(u32(p + 4)) << 32; }

// Where the central directory is, from the end record (and its ZIP64 form).
struct Directory {
  uint64_t offset = 0, size = 0, count = 0;
};

}  // namespace

uint32_t crc32(const uint8_t* p, size_t n) {
  // The reflected CRC-32 of ZIP (polynomial 0xEDB88320), one table lookup per byte.
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

ZipArchive::ZipArchive(const std::string& path) : path_(path) {
  auto fail = [&](const std::string& why) { return Error("'" + path + "': " + why); };
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw Error("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw fail("not a regular file");
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ == 0) {
    ::close(fd);
    throw fail("the file is empty");
  }
  void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);  // the mapping keeps the file
  if (m == MAP_FAILED) throw fail(std::string("cannot map the file: ") + std::strerror(errno));
  map_ = static_cast<const uint8_t*>(m);

  try {
    // The end record sits in the last 22 + 65535 (longest comment) bytes.
    const bool starts_like_zip = size_ >= 4 && u32(map_) == kLocalSig;
    size_t end = SIZE_MAX;
    if (size_ >= kEndSize) {
      const size_t lowest = size_ - kEndSize > 65535 ? size_ - kEndSize - 65535 : 0;
      for (size_t at = size_ - kEndSize + 1; at-- > lowest;)
        if (u32(map_ + at) == kEndSig && at + kEndSize + u16(map_ + at + 20) == size_) {
          end = at;
          break;
        }
    }
    if (end == SIZE_MAX)
      throw fail(starts_like_zip
                     ? "truncated: it starts as a ZIP archive (a torch.save checkpoint) but the central directory "
                       "at its end is missing (" + std::to_string(size_) + " bytes)"
                     : "not a ZIP archive (no end-of-central-directory record)");

    Directory dir{u32(map_ + end + 16), u32(map_ + end + 12), u16(map_ + end + 10)};
    // ZIP64: fields saturated at 0xFFFF/0xFFFFFFFF are in the ZIP64 end record, found through its locator.
    if (end >= kEnd64LocatorSize && u32(map_ + end - kEnd64LocatorSize) == kEnd64LocatorSig) {
      const uint64_t rec = u64(map_ + end - kEnd64LocatorSize + 8);
      if (size_ < kEnd64Size || rec > size_ - kEnd64Size || u32(map_ + rec) != kEnd64Sig) throw fail("bad ZIP64 end-of-central-directory record");
      dir = {u64(map_ + rec + 48), u64(map_ + rec + 40), u64(map_ + rec + 32)};
    }
    if (dir.offset > size_ || dir.size > size_ - dir.offset)
      throw fail("truncated or corrupt: the central directory lies outside the file");

    const uint8_t* p = map_ + dir.offset;
    const uint8_t* stop = p + dir.size;
    for (uint64_t i = 0; i < dir.count; ++i) {
      if (stop - p < static_cast<ptrdiff_t>(kCentralSize) || u32(p) != kCentralSig)
        throw fail("corrupt central directory at entry " + std::to_string(i));
      ZipEntry e;
      e.method = u16(p + 10);
      e.crc32 = u32(p + 16);
      e.compressed_size = u32(p + 20);
      e.size = u32(p + 24);
      const size_t name_len = u16(p + 28), extra_len = u16(p + 30), comment_len = u16(p + 32);
      e.local_header = u32(p + 42);
      if (static_cast<size_t>(stop - p) < kCentralSize + name_len + extra_len + comment_len)
        throw fail("corrupt central directory at entry " + std::to_string(i));
      e.name.assign(reinterpret_cast<const char*>(p + kCentralSize), name_len);
      // The ZIP64 extra field holds, in this order, the 64-bit values of the fields saturated above.
      const uint8_t* x = p + kCentralSize + name_len;
      const uint8_t* x_end = x + extra_len;
      while (x_end - x >= 4) {
        const uint16_t tag = u16(x), len = u16(x + 2);
        const uint8_t* v = x + 4;
        if (x_end - v < len) break;
        if (tag == kZip64ExtraTag) {
          const uint8_t* v_end = v + len;
          for (uint64_t* field : {&e.size, &e.compressed_size, &e.local_header})
            if (*field == 0xFFFFFFFFu) {
              if (v_end - v < 8) throw fail("entry '" + e.name + "': short ZIP64 extra field");
              *field = u64(v);
              v += 8;
            }
        }
        x += 4 + len;
      }
      entries_.push_back(std::move(e));
      p += kCentralSize + name_len + extra_len + comment_len;
    }
  } catch (...) {
    ::munmap(const_cast<uint8_t*>(map_), size_);
    throw;
  }
}

ZipArchive::~ZipArchive() {
  if (map_) ::munmap(const_cast<uint8_t*>(map_), size_);
}

const ZipEntry* ZipArchive::find(const std::string& name) const {
  for (const ZipEntry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

const uint8_t* ZipArchive::data(const ZipEntry& e, bool verify) const {
  auto fail = [&](const std::string& why) { return Error("'" + path_ + "', entry '" + e.name + "': " + why); };
  if (e.method != 0)
    throw fail("compressed (method " + std::to_string(e.method) +
               "); only stored entries are read, as torch.save writes them");
  if (e.compressed_size != e.size) throw fail("stored entry with different compressed and uncompressed sizes");
  // The local header repeats the name and has its own extra field (torch.save pads with it to align the data).
  if (e.local_header > size_ || size_ - e.local_header < kLocalSize || u32(map_ + e.local_header) != kLocalSig)
    throw fail("bad local header offset (truncated or corrupt file)");
  const uint8_t* h = map_ + e.local_header;
  const uint64_t start = e.local_header + kLocalSize + u16(h + 26) + u16(h + 28);
  if (start > size_ || e.size > size_ - start)
    throw fail("data runs past the end of the file (" + std::to_string(e.size) + " bytes at offset " +
               std::to_string(start) + " in a file of " + std::to_string(size_) + "): truncated file?");
  const uint8_t* d = map_ + start;
  if (verify && crc32(d, e.size) != e.crc32) throw fail("CRC-32 mismatch: the file is corrupt");
  return d;
}

}  // namespace mapet::io
