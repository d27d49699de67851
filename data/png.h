// A minimal PNG writer (8-bit RGB, one IDAT chunk, zlib from the system): the
// batch grid of `mapet show-batch` is something a person opens in a viewer.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"

namespace mapet::data {

std::vector<uint8_t> encode_png(const Image& img);
// Written atomically; throws Error naming the file.
void write_png(const std::string& path, const Image& img);

}  // namespace mapet::data
