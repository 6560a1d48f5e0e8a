#pragma once
// Request images to the detector's input, [3, H, W] uint8 RGB. Every check
// that can be made without decoding (format, declared size, pixel limit, raw
// buffer size) is in check_*, which admission calls; decode_* does the rest.
// All failures are std::invalid_argument with a message for the caller.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string_view>

#include "server/image_header.h"

namespace roiserve::server {

struct RawPixels {
  uint64_t height = 0;
  uint64_t width = 0;
  uint64_t channels = 0;  // 1 (gray), 3 (RGB) or 4 (RGBA)
  bool planar = false;    // CHW instead of HWC
  bool float32 = false;   // little-endian floats in [0, 1] instead of bytes
  std::string_view data;
};

// The header of an encoded image whose pixel count is within max_pixels.
ImageHeader check_encoded_image(std::string_view bytes, uint64_t max_pixels);
void check_raw_pixels(const RawPixels& raw, uint64_t max_pixels);

// OpenCV decodes; grayscale is replicated, alpha dropped, 16-bit samples
// scaled, JPEG EXIF orientation applied.
at::Tensor decode_encoded_image(std::string_view bytes, uint64_t max_pixels);
// Floats are clamped to [0, 1] and rounded to bytes; they must be finite.
at::Tensor decode_raw_pixels(const RawPixels& raw, uint64_t max_pixels);

}  // namespace roiserve::server
