// Box utilities on boxes whose areas, overlaps and regression codes are known.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/ops.h"
#include "support.h"

namespace roiserve::test {
namespace {

at::Tensor boxes_of(const std::vector<double>& corners) {
  return at::tensor(corners, at::kDouble).view({-1, 4});
}

void expect_close(const at::Tensor& actual, const at::Tensor& expected) {
  EXPECT_TRUE(at::allclose(actual, expected, 0, 1e-10)) << actual << "\nexpected\n" << expected;
}

TEST(BoxOpsTest, BoxArea) {
  expect_close(ops::box_area(boxes_of({0, 0, 2, 3, 1, 1, 1, 5})),
               at::tensor({6.0, 0.0}, at::kDouble));
}

TEST(BoxOpsTest, BoxIouOfKnownOverlaps) {
  // [0, 2]² against [1, 3]²: intersection 1, union 4 + 4 - 1 = 7.
  const at::Tensor iou = ops::box_iou(boxes_of({0, 0, 2, 2}),
                                      boxes_of({1, 1, 3, 3, 0, 0, 1, 1, 5, 5, 6, 6, 0, 0, 2, 2}));
  expect_close(iou, at::tensor({1.0 / 7, 1.0 / 4, 0.0, 1.0}, at::kDouble).view({1, 4}));
}

TEST(BoxOpsTest, ClipBoxesToImage) {
  expect_close(ops::clip_boxes_to_image(boxes_of({-5, 2, 30, 50, 1, -1, 2, 3}), 40, 20),
               boxes_of({0, 2, 20, 40, 1, 0, 2, 3}));
}

TEST(BoxOpsTest, RemoveSmallBoxesKeepsBoxesAtLeastMinSizeBothWays) {
  const at::Tensor boxes = boxes_of({0, 0, 2, 2, 0, 0, 1, 5, 0, 0, 5, 1.5, 3, 3, 8, 8});
  EXPECT_TRUE(at::equal(ops::remove_small_boxes(boxes, 2.0), at::tensor({0, 3}, at::kLong)));
}

TEST(BoxOpsTest, EncodeBoxesOfAShiftedBox) {
  // Reference shifted by half the proposal's size, same size: dx = dy = 0.5
  // times the weights, dw = dh = log(1) = 0.
  const at::Tensor codes =
      ops::encode_boxes(boxes_of({5, 5, 15, 15}), boxes_of({0, 0, 10, 10}), {10, 10, 5, 5});
  expect_close(codes, boxes_of({5, 5, 0, 0}));
}

TEST(BoxOpsTest, DecodeInvertsEncode) {
  const std::vector<double> weights = {10, 10, 5, 5};
  const at::Tensor proposals = random_boxes(50, 100, 100, 1).to(at::kDouble);
  const at::Tensor references = random_boxes(50, 100, 100, 2).to(at::kDouble);
  const at::Tensor codes = ops::encode_boxes(references, proposals, weights);
  expect_close(ops::decode_boxes(codes, proposals, weights, 10.0), references);
}

TEST(BoxOpsTest, DecodeClampsTheSizeCodes) {
  // dw = dh = 100 / 5 clamped to log(4): the box grows 4× about its centre.
  const at::Tensor decoded = ops::decode_boxes(boxes_of({0, 0, 100, 100}), boxes_of({0, 0, 10, 10}),
                                               {10, 10, 5, 5}, std::log(4.0));
  expect_close(decoded, boxes_of({-15, -15, 25, 25}));
}

}  // namespace
}  // namespace roiserve::test
