// Decoding only the part of a JPEG that a crop reads, with libjpeg-turbo's
// libjpeg API (the TurboJPEG 2.1 API cannot crop; TurboJPEG 3 can, but
// Debian 12 ships 2.1): rows after the region are never decoded, rows above it
// are skipped without inverse DCT or colour conversion (jpeg_skip_scanlines),
// columns outside it are not converted (jpeg_crop_scanline). The pixels that
// are decoded are the same as a full decode's.
#pragma once
#include <cstdint>
#include <string>

#include "data/image.h"

namespace mapet::data {

struct Region {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // pixel columns [x0, x1), rows [y0, y1)
};

// Decodes `want` (in pixels of the image scaled by 1/denom, within it) into
// `out` as RGB (grayscale and CMYK converted as decode_jpeg does). Columns are
// widened (to whole iMCUs, plus one on each side): the returned Region, which
// contains `want`, is what `out` holds. Pixels inside `want` equal a full
// decode's; the extra columns at the edges may differ by a few levels.
// Throws Error naming `path` for a bad file. A file without its end-of-image
// marker is refused as truncated even when the missing part lies outside the
// region, so a cut-short file is reported the same whatever the crop.
// fast: libjpeg's fast integer IDCT and plain chroma replication instead of
// its accurate IDCT and smooth ("fancy") chroma upsampling: about 20% less
// decoding time for pixels a level or two off (PIL uses the accurate ones).
Region decode_jpeg_region_into(const uint8_t* data, size_t size, const std::string& path, int denom,
                               const Region& want, Image& out, bool fast = false);

}  // namespace mapet::data
