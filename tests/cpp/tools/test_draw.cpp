// Drawing detections: masks tint their pixels only, boxes outline their edges,
// the input is left alone, and a segmentation of the wrong size is an error.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "tools/common/draw.h"

namespace roiserve::tools {
namespace {

DetectionRecord detection_with_mask(int64_t height, int64_t width) {
  at::Tensor mask = at::zeros({height, width}, at::kByte);
  mask.narrow(0, 40, 10).narrow(1, 40, 10).fill_(1);
  DetectionRecord detection;
  detection.bbox = {38, 38, 52, 52};
  detection.category_id = 1;
  detection.category = "circle";
  detection.score = 0.87;
  detection.segmentation = eval::encode(mask);
  return detection;
}

TEST(DrawDetections, TintsMasksOutlinesBoxesAndKeepsTheRest) {
  const at::Tensor image = at::full({3, 80, 100}, 128, at::kByte);
  const at::Tensor drawn = draw_detections(image, {detection_with_mask(80, 100)}, 0.0);
  ASSERT_EQ(drawn.sizes(), image.sizes());
  EXPECT_TRUE((image == 128).all().item<bool>()) << "the input must not change";
  const auto changed = (drawn != image).any(0);
  EXPECT_TRUE(changed[45][45].item<bool>()) << "mask pixel";
  EXPECT_TRUE(changed[38][45].item<bool>()) << "top edge of the box";
  EXPECT_FALSE(changed[70][90].item<bool>()) << "far from the detection";
  // Inside the mask, a blend: neither the image nor the pure class colour
  // (class 1 is green, 180 in the green channel).
  const int64_t green = drawn[1][45][45].item<uint8_t>();
  EXPECT_GT(green, 128);
  EXPECT_LT(green, 180);
}

TEST(DrawDetections, LabelsNearTheTopBorderStayInside) {
  const at::Tensor image = at::zeros({3, 60, 60}, at::kByte);
  DetectionRecord detection = detection_with_mask(60, 60);
  detection.segmentation.reset();
  detection.bbox = {5, 0, 40, 30};
  const at::Tensor drawn = draw_detections(image, {detection}, 0.0);
  EXPECT_TRUE((drawn.narrow(1, 1, 10).narrow(2, 6, 20) != 0).any().item<bool>());
}

TEST(DrawDetections, WrongSizedSegmentationIsAnError) {
  EXPECT_THROW(draw_detections(at::zeros({3, 40, 40}, at::kByte), {detection_with_mask(80, 100)}, 0.0),
               std::invalid_argument);
  EXPECT_THROW(draw_detections(at::zeros({1, 40, 40}, at::kByte), {}, 0.0), std::invalid_argument);
}

}  // namespace
}  // namespace roiserve::tools
