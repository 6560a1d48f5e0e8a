// COCO evaluation on cases small enough to work out by hand;
// tests/python/test_coco_eval_parity.py compares with pycocotools on random ones.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "detector/eval/coco_eval.h"
#include "detector/eval/rle.h"

namespace roiserve::eval {
namespace {

enum Stat { kAP, kAP50, kAP75, kAPs, kAPm, kAPl, kAR1, kAR10, kAR100, kARs, kARm, kARl };

constexpr double kTolerance = 1e-12;
// pycocotools' precision of a run of true positives: tp / (tp + numpy.spacing(1)).
constexpr double kEpsilon = std::numeric_limits<double>::epsilon();

constexpr int64_t kImage = 1;
constexpr int64_t kCategory = 3;
const std::vector<ImageInfo> kImages = {{kImage, 200, 300}};
const std::vector<int64_t> kCategories = {kCategory};

// A ground-truth box with its area and its box-shaped mask.
GroundTruth truth(int64_t id, const Box& box, bool is_crowd = false) {
  GroundTruth object;
  object.id = id;
  object.image_id = kImage;
  object.category_id = kCategory;
  object.bbox = box;
  object.area = box[2] * box[3];
  object.is_crowd = is_crowd;
  object.segmentation = from_bbox(box, 200, 300);
  return object;
}

Detection detection(double score, const Box& box) {
  return Detection{kImage, kCategory, score, box, from_bbox(box, 200, 300)};
}

CocoEvalResult evaluate_boxes(const std::vector<GroundTruth>& truths,
                              const std::vector<Detection>& detections) {
  return evaluate_coco(kImages, kCategories, truths, detections, IouType::kBbox);
}

void expect_stats(const CocoEvalResult& result, const std::array<double, 12>& expected) {
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(result.stats[i], expected[i], kTolerance) << kStatNames[i];
  }
}

TEST(CocoEval, ParametersAreNumpysLinspaces) {
  const CocoParams& params = coco_params();
  ASSERT_EQ(params.iou_thresholds.size(), 10u);
  EXPECT_EQ(params.iou_thresholds[0], 0.5);
  EXPECT_EQ(params.iou_thresholds[5], 0.75);
  // numpy.linspace(.5, .95, 10)[8]: 8 * (.45 / 9) + .5 rounds below .9.
  EXPECT_EQ(params.iou_thresholds[8], 0.8999999999999999);
  EXPECT_EQ(params.iou_thresholds[9], 0.95);
  ASSERT_EQ(params.recall_thresholds.size(), 101u);
  for (size_t r = 0; r < 101; ++r) EXPECT_EQ(params.recall_thresholds[r], r * 0.01);
  EXPECT_EQ(params.max_detections, (std::vector<int64_t>{1, 10, 100}));
  ASSERT_EQ(params.area_ranges.size(), 4u);
  EXPECT_EQ(params.area_ranges[2].min_area, 1024);
  EXPECT_EQ(params.area_ranges[2].max_area, 9216);
}

TEST(CocoEval, PerfectDetectionOfOneSmallObject) {
  const CocoEvalResult result =
      evaluate_boxes({truth(1, {10, 10, 20, 20})}, {detection(0.9, {10, 10, 20, 20})});
  // Medium and large hold no ground truth: -1.
  expect_stats(result, {1, 1, 1, 1, -1, -1, 1, 1, 1, 1, -1, -1});
  EXPECT_EQ(result.precision_at(0, 100, 0, 0, 2), 1 / (1 + kEpsilon));
  EXPECT_EQ(result.recall_at(9, 0, 0, 2), 1.0);
  EXPECT_EQ(result.category_ids, kCategories);
  ASSERT_EQ(result.category_ap.size(), 1u);
  EXPECT_NEAR(result.category_ap[0], 1, kTolerance);
}

TEST(CocoEval, FalsePositiveRankedAboveTheTruePositive) {
  // Precision 0 then 1/2, interpolated to 1/2 at every recall threshold.
  const CocoEvalResult result = evaluate_boxes(
      {truth(1, {10, 10, 20, 20})},
      {detection(0.9, {100, 100, 20, 20}), detection(0.8, {10, 10, 20, 20})});
  // With one detection per image only the false positive is left: AR1 = 0.
  expect_stats(result, {0.5, 0.5, 0.5, 0.5, -1, -1, 0, 1, 1, 1, -1, -1});
  for (size_t r = 0; r < 101; ++r) {
    EXPECT_EQ(result.precision_at(0, r, 0, 0, 2), 0.5);
    EXPECT_EQ(result.precision_at(0, r, 0, 0, 0), 0.0);  // maxDets 1
  }
}

TEST(CocoEval, FalsePositiveBetweenTwoTruePositives) {
  // Recall 1/2, 1/2, 1 at precision 1, 1/2, 2/3: recall thresholds 0 .. .50
  // get 1 and .51 .. 1 get 2/3.
  const CocoEvalResult result = evaluate_boxes(
      {truth(1, {10, 10, 20, 20}), truth(2, {50, 50, 20, 20})},
      {detection(0.9, {10, 10, 20, 20}), detection(0.8, {150, 100, 20, 20}),
       detection(0.7, {50, 50, 20, 20})});
  const double ap = (51 * 1.0 + 50 * (2.0 / 3.0)) / 101;
  EXPECT_NEAR(result.stats[kAP], ap, kTolerance);
  EXPECT_NEAR(result.stats[kAR1], 0.5, kTolerance);
  EXPECT_NEAR(result.stats[kAR100], 1, kTolerance);
  EXPECT_EQ(result.precision_at(0, 51, 0, 0, 2), 2 / (3 + kEpsilon));
}

TEST(CocoEval, DetectionsInACrowdRegionAreIgnored) {
  const GroundTruth person = truth(1, {0, 0, 10, 10});
  const GroundTruth crowd = truth(2, {50, 50, 40, 40}, /*is_crowd=*/true);
  // Both boxes inside the crowd region: IoU (over their own area) 1.
  const std::vector<Detection> detections = {detection(0.9, {60, 60, 10, 10}),
                                             detection(0.8, {0, 0, 10, 10}),
                                             detection(0.7, {70, 70, 10, 10})};
  EXPECT_NEAR(evaluate_boxes({person, crowd}, detections).stats[kAP], 1, kTolerance);
  // Without the crowd flag the region is one more object to find, and the two
  // detections are false positives: recall 1/2, at precision 1/2 (interpolated
  // from recall 0 on), for recall thresholds 0 .. .50.
  GroundTruth not_crowd = crowd;
  not_crowd.is_crowd = false;
  EXPECT_NEAR(evaluate_boxes({person, not_crowd}, detections).stats[kAP50], 51 * 0.5 / 101,
              kTolerance);
}

TEST(CocoEval, IgnoredGroundTruthMatchesOnce) {
  GroundTruth ignored = truth(2, {50, 50, 20, 20});
  ignored.ignore = true;
  const std::vector<Detection> detections = {detection(0.9, {50, 50, 20, 20}),
                                             detection(0.8, {0, 0, 10, 10}),
                                             detection(0.7, {50, 50, 20, 20})};
  // The first detection on it is ignored, the second (the third overall) is a
  // false positive, but ranked after the true positive: AP50 1.
  EXPECT_NEAR(evaluate_boxes({truth(1, {0, 0, 10, 10}), ignored}, detections).stats[kAP50], 1,
              kTolerance);
  // Ranked before it, the false positive leaves precision 1/2 at recall 1.
  const CocoEvalResult result = evaluate_boxes({truth(1, {0, 0, 10, 10}), ignored},
                                               {detection(0.9, {50, 50, 20, 20}),
                                                detection(0.8, {50, 50, 20, 20}),
                                                detection(0.7, {0, 0, 10, 10})});
  EXPECT_EQ(result.precision_at(0, 100, 0, 0, 2), 1 / (2 + kEpsilon));
}

TEST(CocoEval, AreaRangesSelectGroundTruthsAndUnmatchedDetections) {
  // One object per range, each found exactly: every AP and AR is 1.
  const std::vector<GroundTruth> truths = {truth(1, {0, 0, 10, 10}), truth(2, {50, 0, 40, 50}),
                                           truth(3, {100, 50, 150, 100})};
  const std::vector<Detection> exact = {detection(0.5, {0, 0, 10, 10}),
                                        detection(0.6, {50, 0, 40, 50}),
                                        detection(0.7, {100, 50, 150, 100})};
  expect_stats(evaluate_boxes(truths, exact), {1, 1, 1, 1, 1, 1, 1.0 / 3, 1, 1, 1, 1, 1});

  // A large false positive on top: it counts for "all", is ignored for
  // "small" (unmatched and outside the range), and "medium" and "large" hold
  // no ground truth.
  const CocoEvalResult result = evaluate_boxes(
      {truth(1, {0, 0, 10, 10})},
      {detection(0.9, {100, 50, 150, 100}), detection(0.8, {0, 0, 10, 10})});
  expect_stats(result, {0.5, 0.5, 0.5, 1, -1, -1, 0, 1, 1, 1, -1, -1});
}

TEST(CocoEval, AreaRangeBoundsAreInclusive) {
  // 32 x 32 = 1024 is both small and medium.
  const CocoEvalResult result =
      evaluate_boxes({truth(1, {0, 0, 32, 32})}, {detection(0.9, {0, 0, 32, 32})});
  EXPECT_NEAR(result.stats[kAPs], 1, kTolerance);
  EXPECT_NEAR(result.stats[kAPm], 1, kTolerance);
  EXPECT_EQ(result.stats[kAPl], -1);
}

TEST(CocoEval, OnlyTheBestHundredDetectionsPerImageCount) {
  std::vector<Detection> detections;
  for (int i = 0; i < 100; ++i) detections.push_back(detection(0.9, {200, 150, 5, 5}));
  detections.push_back(detection(0.1, {10, 10, 20, 20}));
  const CocoEvalResult result = evaluate_boxes({truth(1, {10, 10, 20, 20})}, detections);
  EXPECT_EQ(result.stats[kAR100], 0);
  EXPECT_EQ(result.stats[kAP], 0);
}

TEST(CocoEval, TiesKeepTheGivenOrder) {
  // Equal scores: the detection given first is matched first.
  const std::vector<GroundTruth> truths = {truth(1, {10, 10, 20, 20})};
  const CocoEvalResult tp_first = evaluate_boxes(
      truths, {detection(0.5, {10, 10, 20, 20}), detection(0.5, {100, 100, 20, 20})});
  const CocoEvalResult fp_first = evaluate_boxes(
      truths, {detection(0.5, {100, 100, 20, 20}), detection(0.5, {10, 10, 20, 20})});
  EXPECT_NEAR(tp_first.stats[kAP], 1, kTolerance);
  EXPECT_NEAR(fp_first.stats[kAP], 0.5, kTolerance);
}

TEST(CocoEval, MasksAreComparedForSegm) {
  // Same boxes, but the detection's mask covers only the left half.
  GroundTruth object = truth(1, {10, 10, 20, 20});
  Detection half = detection(0.9, {10, 10, 20, 20});
  half.segmentation = from_bbox({10, 10, 10, 20}, 200, 300);
  const CocoEvalResult boxes = evaluate_boxes({object}, {half});
  const CocoEvalResult masks =
      evaluate_coco(kImages, kCategories, {object}, {half}, IouType::kSegm);
  EXPECT_NEAR(boxes.stats[kAP], 1, kTolerance);
  EXPECT_NEAR(masks.stats[kAP50], 1, kTolerance);  // IoU exactly 1/2
  EXPECT_EQ(masks.stats[kAP75], 0);
}

TEST(CocoEval, NoGroundTruthGivesMinusOne) {
  const CocoEvalResult result = evaluate_boxes({}, {detection(0.9, {10, 10, 20, 20})});
  for (double stat : result.stats) EXPECT_EQ(stat, -1);
  EXPECT_EQ(result.category_ap, std::vector<double>{-1});
}

TEST(CocoEval, CategoriesAreSortedAndEvaluatedApart) {
  GroundTruth cat_one = truth(1, {10, 10, 20, 20});
  cat_one.category_id = 1;
  Detection wrong_category = detection(0.9, {10, 10, 20, 20});  // category 3
  const CocoEvalResult result =
      evaluate_coco(kImages, {kCategory, 1, 7}, {cat_one}, {wrong_category}, IouType::kBbox);
  EXPECT_EQ(result.category_ids, (std::vector<int64_t>{1, 3, 7}));
  EXPECT_EQ(result.category_ap, (std::vector<double>{0, -1, -1}));
  EXPECT_EQ(result.stats[kAP], 0);
}

TEST(CocoEval, RejectsInconsistentInput) {
  const GroundTruth object = truth(1, {10, 10, 20, 20});
  const Detection found = detection(0.9, {10, 10, 20, 20});
  GroundTruth other_image = object;
  other_image.image_id = 2;
  EXPECT_THROW(evaluate_boxes({other_image}, {found}), std::invalid_argument);
  Detection other_category = found;
  other_category.category_id = 4;
  EXPECT_THROW(evaluate_boxes({object}, {other_category}), std::invalid_argument);
  EXPECT_THROW(evaluate_boxes({object, object}, {found}), std::invalid_argument);
  EXPECT_THROW(evaluate_boxes({truth(0, {1, 1, 2, 2})}, {found}), std::invalid_argument);
  Detection nan_score = found;
  nan_score.score = NAN;
  EXPECT_THROW(evaluate_boxes({object}, {nan_score}), std::invalid_argument);
  Detection small_mask = found;
  small_mask.segmentation = from_bbox({10, 10, 20, 20}, 100, 300);
  EXPECT_THROW(evaluate_coco(kImages, kCategories, {object}, {small_mask}, IouType::kSegm),
               std::invalid_argument);
  EXPECT_THROW(evaluate_coco({{1, 10, 10}, {1, 10, 10}}, kCategories, {}, {}, IouType::kBbox),
               std::invalid_argument);
}

}  // namespace
}  // namespace roiserve::eval
