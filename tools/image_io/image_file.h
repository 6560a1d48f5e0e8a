#pragma once
// Image files to and from 8-bit RGB pixels: H x W CV_8UC3 Mats whose channels
// are in RGB order (not OpenCV's usual BGR), the order of the detector's image
// tensors (tools/detector_io/image_tensor.h converts). OpenCV only.
#include <filesystem>
#include <opencv2/core/mat.hpp>
#include <string_view>

namespace roiserve::tools {

// Decodes any format OpenCV reads (JPEG, PNG, BMP, WebP, TIFF, ...) to RGB:
// grayscale is replicated, alpha dropped, deeper samples scaled to 8 bits.
// Throws std::runtime_error saying why it cannot.
cv::Mat decode_rgb_image(std::string_view bytes);
// The same for a file; throws std::runtime_error "cannot read image 'path': why".
cv::Mat read_rgb_image(const std::filesystem::path& path);

// Writes an RGB CV_8UC3 Mat as PNG. Throws std::invalid_argument for another
// type, std::runtime_error when the file cannot be written.
void write_png(const cv::Mat& rgb, const std::filesystem::path& path);

// Throws std::invalid_argument unless image is CV_8UC3.
void check_rgb_mat(const cv::Mat& image);

}  // namespace roiserve::tools
