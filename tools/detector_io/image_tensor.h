#pragma once
// Image files to and from the detector's image tensors: [3, H, W] uint8 RGB.
// The decoding and encoding themselves are tools/image_io/image_file.h's.
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <opencv2/core/mat.hpp>
#include <string_view>

namespace roiserve::tools {

// decode_rgb_image and read_rgb_image as tensors; the same errors.
at::Tensor decode_image(std::string_view bytes);
at::Tensor read_image(const std::filesystem::path& path);

// Writes a [3, H, W] uint8 RGB tensor (any device) as PNG. Throws
// std::invalid_argument for another shape or dtype, std::runtime_error when the
// file cannot be written.
void write_png(const at::Tensor& image, const std::filesystem::path& path);

// Throws std::invalid_argument unless image is [3, H, W] uint8.
void check_rgb_image(const at::Tensor& image);

// Copies between a [3, H, W] uint8 RGB tensor and an H x W CV_8UC3 Mat whose
// pixels are in RGB order (not OpenCV's usual BGR).
cv::Mat to_rgb_mat(const at::Tensor& image);
at::Tensor from_rgb_mat(const cv::Mat& image);

}  // namespace roiserve::tools
