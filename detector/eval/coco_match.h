#pragma once
// The matching of one image's detections of one category to its ground truths
// within one area range: pycocotools' COCOeval.evaluateImg.
#include <cstdint>
#include <vector>

namespace roiserve::eval::detail {

// What a detection counts as at one IoU threshold.
enum class Outcome : uint8_t { kFalsePositive, kTruePositive, kIgnored };

struct TruthForMatching {
  bool is_crowd;  // may match any number of detections
  bool ignored;   // crowd, flagged, or outside the area range: matches count for nothing
};

// ious: [D, G] row-major, detections in descending score order (at most the
// largest maxDets), ground truths in their given order. detection_outside_area:
// [D]. Returns [T, D] row-major outcomes for the thresholds.
std::vector<Outcome> match_detections(const std::vector<double>& ious,
                                      const std::vector<TruthForMatching>& truths,
                                      const std::vector<bool>& detection_outside_area,
                                      const std::vector<double>& iou_thresholds);

}  // namespace roiserve::eval::detail
