#pragma once
// What an encoded image declares about itself, read from its first bytes
// without decoding it, so that a request can be refused (an unsupported
// format, a pixel bomb: a small file that declares 30000 x 30000 pixels)
// before any pixel buffer is allocated. Needs nothing but the standard library.
#include <cstdint>
#include <string>
#include <string_view>

namespace roiserve::server {

enum class ImageFormat { kJpeg, kPng, kBmp, kWebp, kTiff };

struct ImageHeader {
  ImageFormat format;
  uint64_t width;
  uint64_t height;
};

// "jpeg", "png", "bmp", "webp", "tiff".
std::string format_name(ImageFormat format);

// Throws std::invalid_argument saying what is wrong: an unknown or
// unsupported format, a header cut short, or zero dimensions.
ImageHeader read_image_header(std::string_view bytes);

// A JPEG's image data must end with an end-of-image marker: libjpeg decodes a
// truncated file without an error (the missing rows come out grey), so a
// file cut short is caught here. Assumes read_image_header accepted `bytes`
// as JPEG.
bool jpeg_has_end_marker(std::string_view bytes);

}  // namespace roiserve::server
