#pragma once
// A check for kernels that cannot throw from inside: RoIAlign-style ops with
// adaptive sampling take ceil(bin size) points per bin along each axis, and a
// RoI thousands of times larger than the map would take billions.
#include <ATen/core/Tensor.h>

namespace roiserve::ops::detail {

inline constexpr double kMaxAdaptiveSamplesPerAxis = 1 << 16;

// With sampling_ratio <= 0, refuses rois whose bins would take more than
// kMaxAdaptiveSamplesPerAxis points along an axis, with the CPU kernels'
// message. One reduction on the rois' device and one synchronisation.
void check_adaptive_sampling(const char* op, const at::Tensor& rois, double spatial_scale,
                             double offset, bool min_size_one, int64_t pooled_height,
                             int64_t pooled_width, int64_t sampling_ratio);

}  // namespace roiserve::ops::detail
