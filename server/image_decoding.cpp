#include "server/image_decoding.h"

#include <ATen/ATen.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "tools/detector_io/image_tensor.h"

namespace roiserve::server {
namespace {

void check_pixel_count(uint64_t width, uint64_t height, uint64_t max_pixels, const char* what) {
  // Each factor fits in 32 bits here (headers carry at most 32-bit sizes,
  // raw sizes are checked below), so the product cannot overflow.
  if (width * height > max_pixels) {
    throw std::invalid_argument(std::string(what) + " is " + std::to_string(width) + "x" +
                                std::to_string(height) + " = " + std::to_string(width * height) +
                                " pixels, over this server's limit of " +
                                std::to_string(max_pixels));
  }
}

}  // namespace

ImageHeader check_encoded_image(std::string_view bytes, uint64_t max_pixels) {
  const ImageHeader header = read_image_header(bytes);
  check_pixel_count(header.width, header.height, max_pixels,
                    (format_name(header.format) + " image").c_str());
  return header;
}

void check_raw_pixels(const RawPixels& raw, uint64_t max_pixels) {
  if (raw.height == 0 || raw.width == 0) {
    throw std::invalid_argument("raw image needs height and width > 0 (got " +
                                std::to_string(raw.height) + "x" + std::to_string(raw.width) + ")");
  }
  if (raw.height > UINT32_MAX || raw.width > UINT32_MAX) {
    throw std::invalid_argument("raw image dimensions exceed 32 bits");
  }
  check_pixel_count(raw.width, raw.height, max_pixels, "raw image");
  if (raw.channels != 1 && raw.channels != 3 && raw.channels != 4) {
    throw std::invalid_argument("raw image needs 1, 3 or 4 channels (got " +
                                std::to_string(raw.channels) + ")");
  }
  const uint64_t sample_bytes = raw.float32 ? 4 : 1;
  const uint64_t expected = raw.height * raw.width * raw.channels * sample_bytes;
  if (raw.data.size() != expected) {
    throw std::invalid_argument(
        "raw image data has " + std::to_string(raw.data.size()) + " bytes, but " +
        std::to_string(raw.height) + "x" + std::to_string(raw.width) + "x" +
        std::to_string(raw.channels) + (raw.float32 ? " float32" : " uint8") + " needs " +
        std::to_string(expected));
  }
}

at::Tensor decode_encoded_image(std::string_view bytes, uint64_t max_pixels) {
  const ImageHeader header = check_encoded_image(bytes, max_pixels);
  if (header.format == ImageFormat::kJpeg && !jpeg_has_end_marker(bytes)) {
    throw std::invalid_argument("jpeg image is truncated (no end-of-image marker)");
  }
  at::Tensor image;
  try {
    image = tools::decode_image(bytes);
  } catch (const std::runtime_error& error) {
    throw std::invalid_argument(format_name(header.format) + " image could not be decoded: " +
                                error.what());
  }
  // The pixel limit was checked against the header: a file whose decoder sees
  // another size (a TIFF with contradicting tags, found by fuzzing) must not
  // slip past it. EXIF rotation keeps the count.
  const auto decoded_pixels = static_cast<uint64_t>(image.size(1) * image.size(2));
  if (decoded_pixels != header.width * header.height) {
    throw std::invalid_argument(format_name(header.format) + " image decodes to " +
                                std::to_string(image.size(2)) + "x" + std::to_string(image.size(1)) +
                                " pixels, not the " + std::to_string(header.width) + "x" +
                                std::to_string(header.height) + " its header declares");
  }
  return image;
}

at::Tensor decode_raw_pixels(const RawPixels& raw, uint64_t max_pixels) {
  check_raw_pixels(raw, max_pixels);
  const auto height = static_cast<int64_t>(raw.height);
  const auto width = static_cast<int64_t>(raw.width);
  const auto channels = static_cast<int64_t>(raw.channels);
  at::Tensor samples;
  if (raw.float32) {
    samples = at::empty({static_cast<int64_t>(raw.data.size() / 4)}, at::kFloat);
    // The wire format is little-endian, as is every CPU this builds for.
    std::memcpy(samples.data_ptr(), raw.data.data(), raw.data.size());
    if (!at::isfinite(samples).all().item<bool>()) {
      throw std::invalid_argument("raw float32 image has NaN or infinite samples");
    }
    samples = samples.clamp(0, 1).mul(255).round().to(at::kByte);
  } else {
    samples = at::empty({static_cast<int64_t>(raw.data.size())}, at::kByte);
    std::memcpy(samples.data_ptr(), raw.data.data(), raw.data.size());
  }
  at::Tensor chw = raw.planar ? samples.view({channels, height, width})
                              : samples.view({height, width, channels}).permute({2, 0, 1});
  if (channels == 1) chw = chw.expand({3, height, width});
  if (channels == 4) chw = chw.narrow(0, 0, 3);
  return chw.contiguous();
}

}  // namespace roiserve::server
