#include "tools/detector_io/image_tensor.h"

#include <ATen/ATen.h>

#include <stdexcept>
#include <string>

#include "tools/image_io/image_file.h"

namespace roiserve::tools {

at::Tensor decode_image(std::string_view bytes) { return from_rgb_mat(decode_rgb_image(bytes)); }

at::Tensor read_image(const std::filesystem::path& path) {
  return from_rgb_mat(read_rgb_image(path));
}

void write_png(const at::Tensor& image, const std::filesystem::path& path) {
  write_png(to_rgb_mat(image), path);
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
  check_rgb_mat(image);
  const at::Tensor view = at::from_blob(image.data, {image.rows, image.cols, 3},
                                        {static_cast<int64_t>(image.step[0]), 3, 1}, at::kByte);
  // clone, not contiguous(): the result must own its pixels even where the
  // permuted view happens to be contiguous already.
  return view.permute({2, 0, 1}).clone(at::MemoryFormat::Contiguous);
}

}  // namespace roiserve::tools
