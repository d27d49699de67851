#include "data/jpeg_region.h"

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

// jpeglib.h needs size_t and FILE declared first.
#include <jerror.h>
#include <jpeglib.h>

#include "data/jpeg.h"
#include "engine/tensor.h"

namespace mapet::data {

namespace {

// libjpeg reports errors through a callback that must not return: jump back
// to decode_jpeg_region_into, which turns the message into an Error.
struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool premature_end;
};

void on_error(j_common_ptr c) {
  ErrorManager* e = reinterpret_cast<ErrorManager*>(c->err);
  (*c->err->format_message)(c, e->message);
  std::longjmp(e->jump, 1);
}

void on_message(j_common_ptr c, int level) {
  // Warnings (level -1) leave the image usable, except a file cut short,
  // which libjpeg pads with grey: that is an error here, as in decode_jpeg.
  // JWRN_HIT_MARKER: the data was cut and an end marker follows ("premature end of data segment").
  if (level < 0 && (c->err->msg_code == JWRN_JPEG_EOF || c->err->msg_code == JWRN_HIT_MARKER))
    reinterpret_cast<ErrorManager*>(c->err)->premature_end = true;
}

// A complete JPEG ends with the EOI marker FF D9. Inside entropy-coded data an
// FF byte is always followed by 00 or a restart marker, so an FF D9 after the
// start of the first scan means the file was not cut short (bytes after it are
// fine). The search starts at that scan so that an EXIF thumbnail's own EOI,
// in the header segments, does not count.
bool has_end_marker(const uint8_t* data, size_t size) {
  size_t scan = 2;
  while (scan + 4 <= size && data[scan] == 0xFF && data[scan + 1] != 0xDA)
    scan += 2 + (size_t(data[scan + 2]) << 8 | data[scan + 3]);
  for (size_t i = size; i-- > scan + 1;)
    if (data[i - 1] == 0xFF && data[i] == 0xD9) return true;
  return false;
}

}  // namespace

Region decode_jpeg_region_into(const uint8_t* data, size_t size, const std::string& path, int denom,
                               const Region& want, Image& out, bool fast) {
  read_jpeg_info(data, size, path);  // empty, not a JPEG, bomb: the same messages as decode_jpeg
  if (!has_end_marker(data, size))
    throw Error("'" + path + "' could not be decoded (truncated JPEG: no end-of-image marker)");
  thread_local std::vector<uint8_t> cmyk_row;
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = on_message;
  err.premature_end = false;
  Region got;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    throw Error("'" + path + "' could not be decoded (truncated or corrupt JPEG): " + err.message);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  cinfo.scale_num = 1;
  cinfo.scale_denom = static_cast<unsigned>(denom);
  cinfo.dct_method = fast ? JDCT_IFAST : JDCT_ISLOW;  // ISLOW: what TurboJPEG and PIL use by default
  cinfo.do_fancy_upsampling = fast ? FALSE : TRUE;
  jpeg_start_decompress(&cinfo);
  if (want.x0 < 0 || want.y0 < 0 || want.x1 > int(cinfo.output_width) || want.y1 > int(cinfo.output_height) ||
      want.x0 >= want.x1 || want.y0 >= want.y1) {
    jpeg_destroy_decompress(&cinfo);
    throw Error("'" + path + "': region [" + std::to_string(want.x0) + ", " + std::to_string(want.x1) + ") x [" +
                std::to_string(want.y0) + ", " + std::to_string(want.y1) + ") is outside the " +
                std::to_string(cinfo.output_width) + "x" + std::to_string(cinfo.output_height) + " image");
  }
  // With chroma subsampling, libjpeg's upsampling at the edge of a cropped
  // column range sees no neighbour and differs from a full decode by a few
  // levels; one extra iMCU on each side keeps every wanted pixel exact.
  const int margin = cinfo.max_h_samp_factor * cinfo.min_DCT_scaled_size;
  const int x0 = std::max(want.x0 - margin, 0), x1 = std::min(want.x1 + margin, int(cinfo.output_width));
  JDIMENSION xoff = static_cast<JDIMENSION>(x0), width = static_cast<JDIMENSION>(x1 - x0);
  if (width < cinfo.output_width) jpeg_crop_scanline(&cinfo, &xoff, &width);
  if (want.y0 > 0) jpeg_skip_scanlines(&cinfo, static_cast<JDIMENSION>(want.y0));
  got = Region{int(xoff), want.y0, int(xoff + width), want.y1};
  out.width = int(width);
  out.height = want.y1 - want.y0;
  out.pixels.resize(static_cast<size_t>(out.width) * out.height * 3);
  // Several rows per call: asked for fewer rows than an iMCU row group holds,
  // libjpeg upsamples into a spare buffer and copies (about 10% slower).
  constexpr int kRows = 16;
  if (cmyk) cmyk_row.resize(static_cast<size_t>(width) * 4 * kRows);
  for (int y = 0; y < out.height;) {
    JSAMPROW rows[kRows];
    int n = std::min(kRows, out.height - y);
    for (int i = 0; i < n; ++i) rows[i] = cmyk ? cmyk_row.data() + static_cast<size_t>(i) * width * 4 : out.row(y + i);
    int got_rows = static_cast<int>(jpeg_read_scanlines(&cinfo, rows, static_cast<JDIMENSION>(n)));
    if (got_rows <= 0) break;  // only on a suspending source, which a memory source is not
    if (cmyk)  // Adobe (inverted) CMYK, as in decode_jpeg: R = C * K / 255 on stored values
      for (int i = 0; i < got_rows; ++i)
        for (JDIMENSION x = 0; x < width; ++x)
          for (int c = 0; c < 3; ++c)
            out.row(y + i)[x * 3 + c] = static_cast<uint8_t>((rows[i][x * 4 + c] * rows[i][x * 4 + 3] + 127) / 255);
    y += got_rows;
  }
  jpeg_abort_decompress(&cinfo);  // the rest of the file is not needed
  jpeg_destroy_decompress(&cinfo);
  if (err.premature_end) throw Error("'" + path + "' could not be decoded (truncated JPEG: premature end of data)");
  return got;
}

}  // namespace mapet::data
