// Hand-made torch.save files for tests of hostile input: a stored (uncompressed)
// ZIP writer and a few protocol-2 pickle opcodes, so a test can write exactly
// the damaged or crafted checkpoint it needs, byte for byte.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/io/zip.h"

namespace mapet::test {

inline void put_le(std::string& s, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}

// A ZIP archive of stored entries (name, bytes), as torch.save lays them out.
inline std::string stored_zip(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out, central;
  for (const auto& [name, data] : entries) {
    const uint32_t crc = io::crc32(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    const size_t at = out.size();
    put_le(out, 0x04034b50, 4);
    put_le(out, 20, 2), put_le(out, 0, 2), put_le(out, 0, 2), put_le(out, 0, 2), put_le(out, 0, 2);
    put_le(out, crc, 4), put_le(out, data.size(), 4), put_le(out, data.size(), 4);
    put_le(out, name.size(), 2), put_le(out, 0, 2);
    out += name + data;
    put_le(central, 0x02014b50, 4);
    put_le(central, 20, 2), put_le(central, 20, 2), put_le(central, 0, 2), put_le(central, 0, 2);
    put_le(central, 0, 2), put_le(central, 0, 2);
    put_le(central, crc, 4), put_le(central, data.size(), 4), put_le(central, data.size(), 4);
    put_le(central, name.size(), 2), put_le(central, 0, 2), put_le(central, 0, 2), put_le(central, 0, 2);
    put_le(central, 0, 2), put_le(central, 0, 4), put_le(central, at, 4);
    central += name;
  }
  const size_t dir_at = out.size();
  out += central;
  put_le(out, 0x06054b50, 4);
  put_le(out, 0, 2), put_le(out, 0, 2), put_le(out, entries.size(), 2), put_le(out, entries.size(), 2);
  put_le(out, central.size(), 4), put_le(out, dir_at, 4), put_le(out, 0, 2);
  return out;
}

// Pickle opcodes (protocol 2) for building data.pkl by hand.
struct Pickle {
  std::string b = std::string("\x80\x02", 2);
  Pickle& op(char c) { return b += c, *this; }
  Pickle& str(const std::string& s) { return b += 'X', put_le(b, s.size(), 4), b += s, *this; }
  Pickle& global(const std::string& module, const std::string& name) { return b += 'c' + module + '\n' + name + '\n', *this; }
  Pickle& integer(int64_t v) { return b += '\x8a', b += '\x08', put_le(b, static_cast<uint64_t>(v), 8), *this; }
  Pickle& ints(const std::vector<int64_t>& v) {  // a tuple of integers
    op('(');
    for (int64_t x : v) integer(x);
    return op('t');
  }
  // torch._utils._rebuild_tensor_v2 of storage `key` (FloatStorage of storage_numel elements).
  Pickle& tensor(const std::string& key, int64_t storage_numel, int64_t offset, const std::vector<int64_t>& size,
                 const std::vector<int64_t>& stride) {
    global("torch._utils", "_rebuild_tensor_v2").op('(');
    op('(').str("storage").global("torch", "FloatStorage").str(key).str("cpu").integer(storage_numel).op('t').op('Q');
    integer(offset).ints(size).ints(stride).op('\x89');
    global("collections", "OrderedDict").op(')').op('R');
    return op('t').op('R');
  }
  std::string done() { return b + '.'; }
};

// A torch.save archive "archive/" holding data.pkl and storages "archive/data/<key>".
inline std::string torch_file(const std::string& pkl, const std::vector<std::pair<std::string, std::string>>& storages) {
  std::vector<std::pair<std::string, std::string>> e{{"archive/data.pkl", pkl}};
  for (const auto& [key, bytes] : storages) e.emplace_back("archive/data/" + key, bytes);
  e.emplace_back("archive/version", "3\n");
  return stored_zip(e);
}

}  // namespace mapet::test
