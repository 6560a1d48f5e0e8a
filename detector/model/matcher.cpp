#include "detector/model/matcher.h"

#include <ATen/ATen.h>

namespace roiserve::detector {

Matcher::Matcher(double high_threshold, double low_threshold, bool allow_low_quality_matches)
    : high_threshold_(high_threshold),
      low_threshold_(low_threshold),
      allow_low_quality_matches_(allow_low_quality_matches) {}

at::Tensor Matcher::operator()(const at::Tensor& quality) const {
  auto [best_quality, matches] = quality.max(0);
  const at::Tensor all_matches = allow_low_quality_matches_ ? matches.clone() : at::Tensor();
  matches.masked_fill_(best_quality < low_threshold_, kBelowLowThreshold);
  matches.masked_fill_((best_quality >= low_threshold_) & (best_quality < high_threshold_),
                       kBetweenThresholds);
  if (allow_low_quality_matches_) {
    const at::Tensor best_per_gt = std::get<0>(quality.max(1));
    const at::Tensor predictions = at::nonzero(quality == best_per_gt.unsqueeze(1)).select(1, 1);
    matches.index_put_({predictions}, all_matches.index_select(0, predictions));
  }
  return matches;
}

std::pair<at::Tensor, at::Tensor> sample_balanced(const at::Tensor& labels, int64_t batch_size,
                                                  double positive_fraction) {
  const at::Tensor positive = at::nonzero(labels >= 1).squeeze(1);
  const at::Tensor negative = at::nonzero(labels == 0).squeeze(1);
  const int64_t num_positive =
      std::min(positive.numel(), static_cast<int64_t>(batch_size * positive_fraction));
  const int64_t num_negative = std::min(negative.numel(), batch_size - num_positive);
  const auto options = at::TensorOptions().dtype(at::kLong).device(labels.device());
  const at::Tensor pick_positive = at::randperm(positive.numel(), options).narrow(0, 0, num_positive);
  const at::Tensor pick_negative = at::randperm(negative.numel(), options).narrow(0, 0, num_negative);
  return {positive.index_select(0, pick_positive), negative.index_select(0, pick_negative)};
}

}  // namespace roiserve::detector
