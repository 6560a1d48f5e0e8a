#include "tools/common/image_io.h"

#include <ATen/ATen.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace roiserve::tools {
namespace {

using File = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

void write_file_bytes(const std::vector<uint8_t>& bytes, const std::filesystem::path& path) {
  File file(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!file || std::fwrite(bytes.data(), 1, bytes.size(), file.get()) != bytes.size() ||
      std::fflush(file.get()) != 0) {
    throw std::runtime_error("cannot write '" + path.string() + "': " + std::strerror(errno));
  }
}

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path) {
  File file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw std::runtime_error(std::strerror(errno));
  std::vector<uint8_t> bytes;
  uint8_t block[1 << 16];
  size_t count = 0;
  while ((count = std::fread(block, 1, sizeof(block), file.get())) > 0) {
    bytes.insert(bytes.end(), block, block + count);
  }
  if (std::ferror(file.get())) throw std::runtime_error(std::strerror(errno));
  return bytes;
}

at::Tensor decode_image(std::string_view bytes) {
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
  return from_rgb_mat(rgb);
}

at::Tensor read_image(const std::filesystem::path& path) {
  try {
    const std::vector<uint8_t> bytes = read_file_bytes(path);
    return decode_image({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
  } catch (const std::runtime_error& error) {
    throw std::runtime_error("cannot read image '" + path.string() + "': " + error.what());
  }
}

void write_png(const at::Tensor& image, const std::filesystem::path& path) {
  cv::Mat bgr;
  cv::cvtColor(to_rgb_mat(image), bgr, cv::COLOR_RGB2BGR);
  std::vector<uint8_t> bytes;
  if (!cv::imencode(".png", bgr, bytes)) {
    throw std::runtime_error("cannot encode '" + path.string() + "' as PNG");
  }
  write_file_bytes(bytes, path);
}

void check_rgb_image(const at::Tensor& image) {
  if (!image.defined() || image.dim() != 3 || image.size(0) != 3 ||
      image.scalar_type() != at::kByte) {
    throw std::invalid_argument("expected a [3, H, W] uint8 RGB image, got " +
                                (image.defined() ? std::string(c10::toString(image.scalar_type())) +
                                                       " of shape " + c10::str(image.sizes())
                                                 : std::string("an undefined tensor")));
  }
}

cv::Mat to_rgb_mat(const at::Tensor& image) {
  check_rgb_image(image);
  const at::Tensor interleaved = image.to(at::kCPU).permute({1, 2, 0}).contiguous();
  const cv::Mat view(static_cast<int>(image.size(1)), static_cast<int>(image.size(2)), CV_8UC3,
                     interleaved.data_ptr<uint8_t>());
  return view.clone();
}

at::Tensor from_rgb_mat(const cv::Mat& image) {
  if (image.type() != CV_8UC3) {
    throw std::invalid_argument("expected an 8-bit 3-channel image, got OpenCV type " +
                                cv::typeToString(image.type()));
  }
  const at::Tensor view = at::from_blob(image.data, {image.rows, image.cols, 3},
                                        {static_cast<int64_t>(image.step[0]), 3, 1}, at::kByte);
  // clone, not contiguous(): the result must own its pixels even where the
  // permuted view happens to be contiguous already.
  return view.permute({2, 0, 1}).clone(at::MemoryFormat::Contiguous);
}

}  // namespace roiserve::tools
