#include "tools/drawing/draw_detections.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <string>

#include "tools/image_io/image_file.h"

namespace roiserve::tools {
namespace {

constexpr double kMaskOpacity = 0.45;
constexpr double kFontScale = 0.4;
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

// Distinct, saturated colours (RGB), one per class, cycling past ten classes.
cv::Scalar class_color(int64_t category_id) {
  static constexpr std::array<std::array<int, 3>, 10> kPalette = {{{230, 25, 75},
                                                                   {60, 180, 75},
                                                                   {255, 225, 25},
                                                                   {0, 130, 200},
                                                                   {245, 130, 48},
                                                                   {145, 30, 180},
                                                                   {70, 240, 240},
                                                                   {240, 50, 230},
                                                                   {210, 245, 60},
                                                                   {250, 190, 212}}};
  const auto& rgb = kPalette[static_cast<size_t>(std::max<int64_t>(category_id, 0)) % kPalette.size()];
  return cv::Scalar(rgb[0], rgb[1], rgb[2]);
}

void blend_mask(cv::Mat& canvas, const eval::Rle& rle, const cv::Scalar& color) {
  if (rle.height != canvas.rows || rle.width != canvas.cols) {
    throw std::invalid_argument("draw_detections: a segmentation of " + std::to_string(rle.height) +
                                " x " + std::to_string(rle.width) + " on an image of " +
                                std::to_string(canvas.rows) + " x " + std::to_string(canvas.cols));
  }
  std::vector<uint8_t> pixels = eval::decode(rle);
  const cv::Mat mask(canvas.rows, canvas.cols, CV_8UC1, pixels.data());
  cv::Mat tinted(canvas.size(), canvas.type(), color);
  cv::Mat blended;
  cv::addWeighted(canvas, 1.0 - kMaskOpacity, tinted, kMaskOpacity, 0.0, blended);
  blended.copyTo(canvas, mask);
}

void draw_box_and_label(cv::Mat& canvas, const DetectionRecord& detection, const cv::Scalar& color) {
  const cv::Point top_left(static_cast<int>(std::floor(detection.bbox[0])),
                           static_cast<int>(std::floor(detection.bbox[1])));
  const cv::Point bottom_right(static_cast<int>(std::ceil(detection.bbox[2])) - 1,
                               static_cast<int>(std::ceil(detection.bbox[3])) - 1);
  cv::rectangle(canvas, top_left, bottom_right, color, 1, cv::LINE_AA);

  char text[96];
  std::snprintf(text, sizeof(text), "%s %.2f", detection.category.c_str(), detection.score);
  int baseline = 0;
  const cv::Size size = cv::getTextSize(text, kFont, kFontScale, 1, &baseline);
  // Above the box, or just inside its top edge where the image ends above.
  const int top = top_left.y - size.height - baseline >= 0 ? top_left.y - size.height - baseline
                                                           : std::max(top_left.y, 0);
  const cv::Point origin(std::max(top_left.x, 0), top);
  cv::rectangle(canvas, origin, origin + cv::Point(size.width, size.height + baseline), color,
                cv::FILLED);
  cv::putText(canvas, text, origin + cv::Point(0, size.height), kFont, kFontScale,
              cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
}

}  // namespace

cv::Mat draw_detections(const cv::Mat& image, const std::vector<DetectionRecord>& detections,
                        double min_score) {
  check_rgb_mat(image);
  cv::Mat canvas = image.clone();
  for (const DetectionRecord& detection : detections) {
    if (detection.segmentation && detection.score >= min_score) {
      blend_mask(canvas, *detection.segmentation, class_color(detection.category_id));
    }
  }
  for (const DetectionRecord& detection : detections) {
    if (detection.score >= min_score) {
      draw_box_and_label(canvas, detection, class_color(detection.category_id));
    }
  }
  return canvas;
}

}  // namespace roiserve::tools
