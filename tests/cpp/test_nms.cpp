// nms and batched_nms on hand-made boxes whose IoUs are known.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "ops/ops.h"

namespace roiserve::test {
namespace {

at::Tensor boxes_of(const std::vector<float>& corners) {
  return at::tensor(corners).view({-1, 4});
}

at::Tensor indices(const std::vector<int64_t>& values) {
  return at::tensor(values, at::kLong);
}

class NmsTest : public ::testing::Test {
 protected:
  // 3 duplicates 0 with a higher score; 1 overlaps both with IoU 81/119 ≈ 0.68;
  // 2 overlaps nothing.
  const at::Tensor boxes = boxes_of({0, 0, 10, 10, 1, 1, 11, 11, 20, 20, 30, 30, 0, 0, 10, 10});
  const at::Tensor scores = at::tensor({0.9f, 0.8f, 0.7f, 0.95f});
};

TEST_F(NmsTest, SuppressesBoxesOverlappingAHigherScoringKeptBox) {
  EXPECT_TRUE(at::equal(ops::nms(boxes, scores, 0.5), indices({3, 2})));
}

TEST_F(NmsTest, KeepsOverlapsAtOrBelowTheThreshold) {
  EXPECT_TRUE(at::equal(ops::nms(boxes, scores, 0.7), indices({3, 1, 2})));
  // IoU exactly 2 / 4: suppression needs IoU > threshold.
  const at::Tensor halves = boxes_of({0, 0, 3, 1, 1, 0, 4, 1});
  EXPECT_TRUE(at::equal(ops::nms(halves, at::tensor({0.6f, 0.5f}), 0.5), indices({0, 1})));
}

TEST_F(NmsTest, EqualScoresKeepTheLowerIndexFirst) {
  const at::Tensor tied = at::full({4}, 0.5f);
  EXPECT_TRUE(at::equal(ops::nms(boxes, tied, 0.5), indices({0, 2})));
}

TEST_F(NmsTest, BatchedNmsNeverSuppressesAcrossCategories) {
  // 0 and 3 are the same box in different categories: both stay; 1 is in 3's
  // category and suppressed by it.
  const at::Tensor categories = indices({0, 1, 0, 1});
  EXPECT_TRUE(at::equal(ops::batched_nms(boxes, scores, categories, 0.5), indices({3, 0, 2})));
}

TEST_F(NmsTest, BatchedNmsWithOneCategoryIsNms) {
  const at::Tensor categories = at::full({4}, 7, at::kLong);
  EXPECT_TRUE(
      at::equal(ops::batched_nms(boxes, scores, categories, 0.5), ops::nms(boxes, scores, 0.5)));
}

}  // namespace
}  // namespace roiserve::test
