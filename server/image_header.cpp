#include "server/image_header.h"

#include <stdexcept>

namespace roiserve::server {
namespace {

// Bounds-checked little- and big-endian reads: every read of a header field
// goes through these, so a short or lying header is an error, never a read
// past the buffer.
class ByteReader {
 public:
  ByteReader(std::string_view bytes, const char* format) : bytes_(bytes), format_(format) {}

  uint64_t be(size_t offset, size_t width) const {
    check(offset, width);
    uint64_t value = 0;
    for (size_t i = 0; i < width; ++i) value = (value << 8) | byte(offset + i);
    return value;
  }
  uint64_t le(size_t offset, size_t width) const {
    check(offset, width);
    uint64_t value = 0;
    for (size_t i = width; i-- > 0;) value = (value << 8) | byte(offset + i);
    return value;
  }
  uint8_t byte(size_t offset) const {
    check(offset, 1);
    return static_cast<uint8_t>(bytes_[offset]);
  }
  bool has(size_t offset, std::string_view text) const {
    return offset <= bytes_.size() && bytes_.substr(offset, text.size()) == text;
  }
  size_t size() const { return bytes_.size(); }

 private:
  void check(size_t offset, size_t width) const {
    if (offset > bytes_.size() || width > bytes_.size() - offset) {
      throw std::invalid_argument(std::string(format_) + " header is truncated (" +
                                  std::to_string(bytes_.size()) + " bytes)");
    }
  }
  std::string_view bytes_;
  const char* format_;
};

ImageHeader png_header(const ByteReader& reader) {
  // The signature (8 bytes), then the IHDR chunk: length, type, width, height.
  if (!reader.has(12, "IHDR")) throw std::invalid_argument("png: the first chunk is not IHDR");
  return {ImageFormat::kPng, reader.be(16, 4), reader.be(20, 4)};
}

bool is_jpeg_frame_marker(uint8_t marker) {
  // SOF0..SOF15 but DHT (C4), JPG (C8) and DAC (CC).
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

bool is_standalone_jpeg_marker(uint8_t marker) {
  return marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8);
}

// Walks the segments after SOI; calls `on_segment(marker, offset of its
// length field)` until it returns true. Returns the offset where it stopped.
template <typename OnSegment>
size_t walk_jpeg_segments(const ByteReader& reader, OnSegment on_segment) {
  size_t offset = 2;
  while (true) {
    if (reader.byte(offset) != 0xFF) throw std::invalid_argument("jpeg: corrupt segment marker");
    while (reader.byte(offset) == 0xFF) ++offset;  // fill bytes
    const uint8_t marker = reader.byte(offset);
    ++offset;
    if (is_standalone_jpeg_marker(marker)) continue;
    if (on_segment(marker, offset)) return offset;
    const uint64_t length = reader.be(offset, 2);
    if (length < 2) throw std::invalid_argument("jpeg: corrupt segment length");
    offset += length;
  }
}

ImageHeader jpeg_header(const ByteReader& reader) {
  ImageHeader header{ImageFormat::kJpeg, 0, 0};
  walk_jpeg_segments(reader, [&](uint8_t marker, size_t offset) {
    if (marker == 0xDA || marker == 0xD9) {
      throw std::invalid_argument("jpeg: no frame header before the image data");
    }
    if (!is_jpeg_frame_marker(marker)) return false;
    // Length (2), precision (1), height (2), width (2).
    header.height = reader.be(offset + 3, 2);
    header.width = reader.be(offset + 5, 2);
    if (header.height == 0) {
      throw std::invalid_argument("jpeg: the height is defined by a DNL marker (unsupported)");
    }
    return true;
  });
  return header;
}

ImageHeader bmp_header(const ByteReader& reader) {
  const uint64_t info_size = reader.le(14, 4);
  if (info_size == 12) return {ImageFormat::kBmp, reader.le(18, 2), reader.le(20, 2)};  // OS/2
  if (info_size < 40) throw std::invalid_argument("bmp: unsupported info header");
  const auto width = static_cast<int32_t>(reader.le(18, 4));
  const auto height = static_cast<int32_t>(reader.le(22, 4));  // negative: rows top-down
  if (width < 0) throw std::invalid_argument("bmp: negative width");
  return {ImageFormat::kBmp, static_cast<uint64_t>(width),
          static_cast<uint64_t>(height < 0 ? -static_cast<int64_t>(height) : height)};
}

ImageHeader webp_header(const ByteReader& reader) {
  // RIFF size WEBP, then the first chunk: four-character code and size.
  if (reader.has(12, "VP8 ")) {
    // Frame tag (3 bytes), start code 9D 01 2A, 14-bit width and height.
    if (reader.be(23, 3) != 0x9D012A) throw std::invalid_argument("webp: corrupt VP8 frame");
    return {ImageFormat::kWebp, reader.le(26, 2) & 0x3FFF, reader.le(28, 2) & 0x3FFF};
  }
  if (reader.has(12, "VP8L")) {
    if (reader.byte(20) != 0x2F) throw std::invalid_argument("webp: corrupt VP8L signature");
    const uint64_t bits = reader.le(21, 4);
    return {ImageFormat::kWebp, (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1};
  }
  if (reader.has(12, "VP8X")) {
    return {ImageFormat::kWebp, reader.le(24, 3) + 1, reader.le(27, 3) + 1};
  }
  throw std::invalid_argument("webp: unknown first chunk");
}

ImageHeader tiff_header(const ByteReader& reader) {
  const bool little = reader.has(0, "II");
  auto read = [&](size_t offset, size_t width) {
    return little ? reader.le(offset, width) : reader.be(offset, width);
  };
  if (read(2, 2) != 42) throw std::invalid_argument("tiff: unsupported variant (BigTIFF?)");
  const uint64_t ifd = read(4, 4);
  const uint64_t entries = read(ifd, 2);
  ImageHeader header{ImageFormat::kTiff, 0, 0};
  for (uint64_t i = 0; i < entries; ++i) {
    const uint64_t entry = ifd + 2 + 12 * i;
    const uint64_t tag = read(entry, 2);
    if (tag != 256 && tag != 257) continue;
    const uint64_t type = read(entry + 2, 2);
    uint64_t value;
    if (type == 3) {
      value = read(entry + 8, 2);  // SHORT
    } else if (type == 4) {
      value = read(entry + 8, 4);  // LONG
    } else {
      throw std::invalid_argument("tiff: image size of an unsupported type");
    }
    (tag == 256 ? header.width : header.height) = value;
  }
  return header;
}

}  // namespace

std::string format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg: return "jpeg";
    case ImageFormat::kPng: return "png";
    case ImageFormat::kBmp: return "bmp";
    case ImageFormat::kWebp: return "webp";
    case ImageFormat::kTiff: return "tiff";
  }
  return "unknown";
}

ImageHeader read_image_header(std::string_view bytes) {
  if (bytes.empty()) throw std::invalid_argument("the image is empty (0 bytes)");
  ImageHeader header;
  if (ByteReader(bytes, "png").has(0, "\x89PNG\r\n\x1a\n")) {
    header = png_header(ByteReader(bytes, "png"));
  } else if (ByteReader(bytes, "jpeg").has(0, "\xFF\xD8\xFF")) {
    header = jpeg_header(ByteReader(bytes, "jpeg"));
  } else if (ByteReader(bytes, "bmp").has(0, "BM")) {
    header = bmp_header(ByteReader(bytes, "bmp"));
  } else if (ByteReader(bytes, "webp").has(0, "RIFF") && ByteReader(bytes, "webp").has(8, "WEBP")) {
    header = webp_header(ByteReader(bytes, "webp"));
  } else if (ByteReader(bytes, "tiff").has(0, std::string_view("II*\0", 4)) ||
             ByteReader(bytes, "tiff").has(0, std::string_view("MM\0*", 4))) {
    header = tiff_header(ByteReader(bytes, "tiff"));
  } else {
    throw std::invalid_argument(
        "unsupported image format (the bytes are not JPEG, PNG, BMP, WebP or TIFF)");
  }
  if (header.width == 0 || header.height == 0) {
    throw std::invalid_argument(format_name(header.format) + " header declares " +
                                std::to_string(header.width) + "x" +
                                std::to_string(header.height) + " pixels");
  }
  return header;
}

bool jpeg_has_end_marker(std::string_view bytes) {
  const ByteReader reader(bytes, "jpeg");
  size_t scan_start;
  try {
    scan_start = walk_jpeg_segments(reader, [](uint8_t marker, size_t) { return marker == 0xDA; });
  } catch (const std::invalid_argument&) {
    return false;
  }
  // Inside entropy-coded data a 0xFF byte is always followed by 0x00 or a
  // restart marker, so FF D9 after the first scan header is the end marker.
  return bytes.find("\xFF\xD9", scan_start) != std::string_view::npos;
}

}  // namespace roiserve::server
