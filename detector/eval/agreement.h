#pragma once
// How far two heads agree on the same image: detections of A and B are paired
// greedily (A's in decreasing score, each with the unpaired B detection of the
// same class that overlaps it most, at IoU >= the threshold); the rest are
// "only in A" and "only in B". Used by the offline A/B report and the
// service's Compare.
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace roiserve::eval {

struct DetectionSet {
  at::Tensor boxes;   // [D, 4] (x1, y1, x2, y2)
  at::Tensor scores;  // [D]
  at::Tensor labels;  // [D]
};

struct Agreement {
  int64_t matched = 0;
  int64_t only_a = 0;
  int64_t only_b = 0;
  double iou_sum = 0;          // over the matched pairs
  double score_delta_sum = 0;  // score of B minus score of A, over the matched pairs

  double mean_iou() const { return matched ? iou_sum / matched : 0.0; }
  double mean_score_delta() const { return matched ? score_delta_sum / matched : 0.0; }
  Agreement& operator+=(const Agreement& other);
};

// Detections scoring below min_score take no part.
Agreement compare_detections(const DetectionSet& a, const DetectionSet& b, double iou_threshold,
                             double min_score);

}  // namespace roiserve::eval
