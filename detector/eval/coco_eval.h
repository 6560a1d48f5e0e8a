#pragma once
// COCO detection metrics for boxes and masks, computed as pycocotools'
// COCOeval(iouType='bbox' or 'segm') with its default parameters computes them
// in evaluate(), accumulate() and summarize(): the same matching, the same
// interpolation and the same floating-point operations in the same order, so
// that every number is identical to pycocotools', not merely close.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "detector/eval/rle.h"

namespace roiserve::eval {

struct ImageInfo {
  int64_t id = 0;
  int64_t height = 0;
  int64_t width = 0;
};

struct GroundTruth {
  int64_t id = 0;  // unique and nonzero (pycocotools reads a match to id 0 as no match)
  int64_t image_id = 0;
  int64_t category_id = 0;
  Box bbox{};       // the region compared for IouType::kBbox
  double area = 0;  // picks the area range for both IoU types (in COCO, the mask's area)
  bool is_crowd = false;
  // Ignored like a crowd region but matched at most once. pycocotools has no
  // way to set this (it overwrites the annotation's flag with iscrowd), so
  // leave it false for pycocotools' numbers.
  bool ignore = false;
  Rle segmentation;  // the image-sized region compared for IouType::kSegm
};

struct Detection {
  int64_t image_id = 0;
  int64_t category_id = 0;
  double score = 0;
  // For IouType::kBbox the region compared, and its width × height is the area
  // that picks the area range.
  Box bbox{};
  // For IouType::kSegm the image-sized region compared, and its pixel count is
  // the area (pycocotools' loadRes of results carrying no "bbox").
  Rle segmentation;
};

enum class IouType { kBbox, kSegm };

struct AreaRange {
  std::string_view label;
  double min_area;  // inclusive
  double max_area;  // inclusive
};

// pycocotools' Params for bbox and segm (useCats = 1).
struct CocoParams {
  std::vector<double> iou_thresholds;     // T = 10: .50, .55, ..., .95 as numpy.linspace makes them
  std::vector<double> recall_thresholds;  // R = 101: 0, .01, ..., 1
  std::vector<int64_t> max_detections;    // M = 3: 1, 10, 100 per image
  std::vector<AreaRange> area_ranges;     // A = 4: all, small, medium, large
};
const CocoParams& coco_params();

// The 12 numbers of COCOeval.summarize(), in its order.
inline constexpr std::array<std::string_view, 12> kStatNames = {
    "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};

struct CocoEvalResult {
  // -1 where no category has a counted (not ignored) ground truth in the
  // selection, as in pycocotools.
  std::array<double, 12> stats{};
  std::vector<int64_t> category_ids;  // ascending: the K axis below
  // [T, R, K, A, M] row-major: interpolated precision at each recall threshold,
  // -1 where the category has no counted ground truth in the area range.
  std::vector<double> precision;
  // [T, K, A, M] row-major: the recall reached, -1 as above.
  std::vector<double> recall;
  // [K]: AP over all IoU thresholds, area "all", 100 detections; -1 as above.
  std::vector<double> category_ap;

  double precision_at(size_t iou, size_t recall_threshold, size_t category, size_t area_range,
                      size_t max_detections) const;
  double recall_at(size_t iou, size_t category, size_t area_range, size_t max_detections) const;
};

// Evaluates the detections of the given images and categories. Ground truths
// and detections must name listed images and categories; for kSegm their
// segmentations must have their image's size. Within one image and category,
// ground truths and detections are taken in the given order (it decides ties,
// as the annotation and result order does in pycocotools). Throws
// std::invalid_argument on inconsistent input.
CocoEvalResult evaluate_coco(const std::vector<ImageInfo>& images,
                             const std::vector<int64_t>& category_ids,
                             const std::vector<GroundTruth>& ground_truths,
                             const std::vector<Detection>& detections, IouType iou_type);

}  // namespace roiserve::eval
