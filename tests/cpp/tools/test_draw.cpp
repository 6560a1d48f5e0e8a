// Drawing detections: masks tint their pixels only, boxes outline their edges,
// the input is left alone, and a segmentation of the wrong size is an error.
#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <vector>

#include "tools/drawing/draw_detections.h"

namespace roiserve::tools {
namespace {

DetectionRecord detection_with_mask(int64_t height, int64_t width) {
  std::vector<uint8_t> mask(static_cast<size_t>(height * width), 0);
  for (int64_t y = 40; y < 50; ++y) {
    for (int64_t x = 40; x < 50; ++x) mask[static_cast<size_t>(y * width + x)] = 1;
  }
  DetectionRecord detection;
  detection.bbox = {38, 38, 52, 52};
  detection.category_id = 1;
  detection.category = "circle";
  detection.score = 0.87;
  detection.segmentation = eval::encode(mask.data(), height, width);
  return detection;
}

bool changed(const cv::Mat& a, const cv::Mat& b, int y, int x) {
  return a.at<cv::Vec3b>(y, x) != b.at<cv::Vec3b>(y, x);
}

TEST(DrawDetections, TintsMasksOutlinesBoxesAndKeepsTheRest) {
  const cv::Mat image(80, 100, CV_8UC3, cv::Scalar(128, 128, 128));
  const cv::Mat drawn = draw_detections(image, {detection_with_mask(80, 100)}, 0.0);
  ASSERT_EQ(drawn.size(), image.size());
  ASSERT_EQ(drawn.type(), CV_8UC3);
  EXPECT_EQ(cv::countNonZero(image.reshape(1) != 128), 0) << "the input must not change";
  EXPECT_TRUE(changed(drawn, image, 45, 45)) << "mask pixel";
  EXPECT_TRUE(changed(drawn, image, 38, 45)) << "top edge of the box";
  EXPECT_FALSE(changed(drawn, image, 70, 90)) << "far from the detection";
  // Inside the mask, a blend: neither the image nor the pure class colour
  // (class 1 is green, 180 in the green channel, channel 1 of RGB).
  const int green = drawn.at<cv::Vec3b>(45, 45)[1];
  EXPECT_GT(green, 128);
  EXPECT_LT(green, 180);
}

TEST(DrawDetections, LabelsNearTheTopBorderStayInside) {
  const cv::Mat image = cv::Mat::zeros(60, 60, CV_8UC3);
  DetectionRecord detection = detection_with_mask(60, 60);
  detection.segmentation.reset();
  detection.bbox = {5, 0, 40, 30};
  const cv::Mat drawn = draw_detections(image, {detection}, 0.0);
  EXPECT_GT(cv::countNonZero(drawn(cv::Rect(6, 1, 20, 10)).reshape(1)), 0);
}

TEST(DrawDetections, WrongSizedSegmentationIsAnError) {
  EXPECT_THROW(draw_detections(cv::Mat::zeros(40, 40, CV_8UC3), {detection_with_mask(80, 100)}, 0.0),
               std::invalid_argument);
  EXPECT_THROW(draw_detections(cv::Mat::zeros(40, 40, CV_8UC1), {}, 0.0), std::invalid_argument);
}

}  // namespace
}  // namespace roiserve::tools
