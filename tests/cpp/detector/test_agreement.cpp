// Agreement between two heads' detections, on cases worked out by hand.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "detector/eval/agreement.h"

namespace roiserve::eval {
namespace {

DetectionSet detections(std::vector<float> boxes, std::vector<float> scores,
                        std::vector<int64_t> labels) {
  const int64_t count = static_cast<int64_t>(scores.size());
  return {at::tensor(boxes).view({count, 4}), at::tensor(scores), at::tensor(labels)};
}

TEST(Agreement, PairsSameClassOverlapsAndCountsTheRest) {
  // A: two boxes of class 1, one of class 2. B: a shifted copy of A's first
  // box (IoU 0.6), A's second box with another class, and a box far away.
  const DetectionSet a = detections({0, 0, 10, 10, 20, 20, 30, 30, 50, 50, 60, 60}, {0.9f, 0.8f, 0.7f},
                                    {1, 1, 2});
  const DetectionSet b = detections({0, 0, 10, 6, 20, 20, 30, 30, 100, 100, 110, 110},
                                    {0.6f, 0.8f, 0.9f}, {1, 2, 1});
  const Agreement agreement = compare_detections(a, b, 0.5, 0.0);
  EXPECT_EQ(agreement.matched, 1);
  EXPECT_EQ(agreement.only_a, 2);
  EXPECT_EQ(agreement.only_b, 2);
  EXPECT_NEAR(agreement.mean_iou(), 0.6, 1e-6);
  EXPECT_NEAR(agreement.mean_score_delta(), 0.6 - 0.9, 1e-6);
}

TEST(Agreement, HigherScoredDetectionChoosesFirstAndTakesTheBestOverlap) {
  // Both of A's boxes overlap B's only box; A's higher-scored one takes it.
  const DetectionSet a = detections({0, 0, 10, 10, 0, 0, 10, 9}, {0.5f, 0.9f}, {1, 1});
  const DetectionSet b = detections({0, 0, 10, 10}, {0.7f}, {1});
  const Agreement agreement = compare_detections(a, b, 0.5, 0.0);
  EXPECT_EQ(agreement.matched, 1);
  EXPECT_EQ(agreement.only_a, 1);
  EXPECT_NEAR(agreement.mean_iou(), 0.9, 1e-6);
  EXPECT_NEAR(agreement.mean_score_delta(), 0.7 - 0.9, 1e-6);
}

TEST(Agreement, LowScoresTakeNoPart) {
  const DetectionSet a = detections({0, 0, 10, 10, 40, 40, 50, 50}, {0.9f, 0.2f}, {1, 1});
  const DetectionSet b = detections({0, 0, 10, 10}, {0.3f}, {1});
  const Agreement agreement = compare_detections(a, b, 0.5, 0.5);
  EXPECT_EQ(agreement.matched, 0);
  EXPECT_EQ(agreement.only_a, 1);
  EXPECT_EQ(agreement.only_b, 0);
  EXPECT_EQ(agreement.mean_iou(), 0.0);
}

TEST(Agreement, SumsOverImages) {
  const DetectionSet a = detections({0, 0, 10, 10}, {0.9f}, {1});
  Agreement total;
  total += compare_detections(a, a, 0.5, 0.0);
  total += compare_detections(a, detections({}, {}, {}), 0.5, 0.0);
  EXPECT_EQ(total.matched, 1);
  EXPECT_EQ(total.only_a, 1);
  EXPECT_DOUBLE_EQ(total.mean_iou(), 1.0);
  EXPECT_DOUBLE_EQ(total.mean_score_delta(), 0.0);
}

}  // namespace
}  // namespace roiserve::eval
