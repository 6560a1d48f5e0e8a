#include "ops/common/sampling_checks.h"

#include <ATen/ATen.h>

namespace roiserve::ops::detail {

void check_adaptive_sampling(const char* op, const at::Tensor& rois, double spatial_scale,
                             double offset, bool min_size_one, int64_t pooled_height,
                             int64_t pooled_width, int64_t sampling_ratio) {
  if (sampling_ratio > 0 || rois.size(0) == 0) {
    return;
  }
  // In the kernels' arithmetic: float for every type but double.
  const at::Tensor boxes = rois.scalar_type() == at::kDouble ? rois : rois.to(at::kFloat);
  const at::Tensor start = boxes.slice(1, 1, 3) * spatial_scale - offset;
  at::Tensor size = boxes.slice(1, 3, 5) * spatial_scale - offset - start;
  if (min_size_one) {
    size = size.clamp_min(1.0);
  }
  const at::Tensor bins = at::tensor(
      {static_cast<double>(pooled_width), static_cast<double>(pooled_height)}, boxes.options());
  const double points = (size / bins).ceil().max().item<double>();
  TORCH_CHECK_VALUE(points <= kMaxAdaptiveSamplesPerAxis, op,
                    ": adaptive sampling (sampling_ratio <= 0) would take ", points,
                    " points per bin along one axis (at most ", kMaxAdaptiveSamplesPerAxis,
                    "); the RoI is far larger than the feature map");
}

}  // namespace roiserve::ops::detail
