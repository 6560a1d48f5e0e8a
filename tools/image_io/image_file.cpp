#include "tools/image_io/image_file.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "tools/file_io/file_bytes.h"

namespace roiserve::tools {

cv::Mat decode_rgb_image(std::string_view bytes) {
  if (bytes.empty()) throw std::runtime_error("the file is empty");
  // imdecode only reads its input: the Mat wraps the caller's bytes.
  const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8UC1,
                        const_cast<char*>(bytes.data()));
  cv::Mat bgr;
  try {
    // IMREAD_COLOR: 3 channels, 8 bits, whatever the file holds.
    bgr = cv::imdecode(encoded, cv::IMREAD_COLOR);
  } catch (const cv::Exception& error) {
    throw std::runtime_error(error.err);
  }
  if (bgr.empty()) {
    throw std::runtime_error(
        "not an image in a format OpenCV decodes (JPEG, PNG, BMP, WebP, TIFF), or corrupt or "
        "truncated data");
  }
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

cv::Mat read_rgb_image(const std::filesystem::path& path) {
  try {
    const std::vector<uint8_t> bytes = read_file_bytes(path);
    return decode_rgb_image({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
  } catch (const std::runtime_error& error) {
    throw std::runtime_error("cannot read image '" + path.string() + "': " + error.what());
  }
}

void write_png(const cv::Mat& rgb, const std::filesystem::path& path) {
  check_rgb_mat(rgb);
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::vector<uint8_t> bytes;
  if (!cv::imencode(".png", bgr, bytes)) {
    throw std::runtime_error("cannot encode '" + path.string() + "' as PNG");
  }
  write_file_bytes(bytes, path);
}

void check_rgb_mat(const cv::Mat& image) {
  if (image.type() != CV_8UC3) {
    throw std::invalid_argument("expected an 8-bit 3-channel image, got OpenCV type " +
                                cv::typeToString(image.type()));
  }
}

}  // namespace roiserve::tools
