#pragma once
// Assigning predictions (anchors, proposals) to ground-truth boxes, and
// sampling a class-balanced subset of them for the loss — torchvision's
// Matcher and BalancedPositiveNegativeSampler.
#include <ATen/core/Tensor.h>

#include <utility>

namespace roiserve::detector {

inline constexpr int64_t kBelowLowThreshold = -1;  // background
inline constexpr int64_t kBetweenThresholds = -2;  // ignored

class Matcher {
 public:
  // allow_low_quality_matches: each ground truth also keeps the predictions
  // it overlaps most, even below high_threshold (the RPN's rule).
  Matcher(double high_threshold, double low_threshold, bool allow_low_quality_matches);
  // quality [G, P] (IoU) -> [P] index of the matched ground truth, or
  // kBelowLowThreshold / kBetweenThresholds.
  at::Tensor operator()(const at::Tensor& quality) const;

 private:
  double high_threshold_;
  double low_threshold_;
  bool allow_low_quality_matches_;
};

// labels [P]: >= 1 foreground, 0 background, -1 ignored. Returns the indices
// of the sampled foreground and background predictions, chosen at random
// (the global ATen generator) up to batch_size with at most
// batch_size * positive_fraction foreground.
std::pair<at::Tensor, at::Tensor> sample_balanced(const at::Tensor& labels, int64_t batch_size,
                                                  double positive_fraction);

}  // namespace roiserve::detector
