#pragma once
// Image files to and from the detector's image tensors: [3, H, W] uint8 RGB.
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <opencv2/core/mat.hpp>
#include <string_view>
#include <vector>

namespace roiserve::tools {

// Decodes any format OpenCV reads (JPEG, PNG, BMP, WebP, TIFF, ...) to
// [3, H, W] uint8 RGB: grayscale is replicated, alpha dropped, deeper samples
// scaled to 8 bits. Throws std::runtime_error "cannot read image 'path': why".
at::Tensor read_image(const std::filesystem::path& path);
// The same for a file's bytes in memory; throws std::runtime_error saying why.
at::Tensor decode_image(std::string_view bytes);

// A whole file, read through stdio rather than cv::imread, which reports no
// reason when it fails: throws std::runtime_error with strerror's words.
std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path);

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
