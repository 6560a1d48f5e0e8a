#pragma once
// RoIAlign-style sample geometry on the device: the same sample points as the
// CPU kernels (ops/cpu/sampling.h) and torchvision, as fixed-size values that
// a kernel keeps in registers or in a block's shared memory.
#include <cstdint>

#include "ops/common/axis_sample.h"
#include "ops/common/host_device.h"
#include "ops/common/rounding.h"

namespace roiserve::ops::cuda {

// Adaptive sampling is bounded so that no RoI can make a kernel loop for
// billions of points; the launchers refuse such RoIs before launching
// (check_adaptive_sampling in ops/common/checks.h), with the CPU's message.
constexpr int64_t kMaxSamplesPerAxis = int64_t{1} << 16;

// One RoI's sampling grid: bins of bin_h × bin_w cells starting at
// (start_h, start_w), grid_h × grid_w points per bin.
template <typename T>
struct RoISampling {
  T start_h, start_w, bin_h, bin_w;
  int64_t grid_h, grid_w;
  T count;  // points averaged per bin (at least 1, so an empty grid gives 0)

  // Sample row iy of bin row ph, in torchvision's expression order.
  ROISERVE_HOST_DEVICE T y(int64_t ph, int64_t iy) const {
    return start_h + static_cast<T>(ph) * bin_h +
           static_cast<T>(iy + .5f) * bin_h / static_cast<T>(grid_h);
  }
  ROISERVE_HOST_DEVICE T x(int64_t pw, int64_t ix) const {
    return start_w + static_cast<T>(pw) * bin_w +
           static_cast<T>(ix + .5f) * bin_w / static_cast<T>(grid_w);
  }
};

template <typename T>
ROISERVE_HOST_DEVICE int64_t adaptive_samples(T roi_size, int64_t bins) {
  const T points = ceil_of(roi_size / static_cast<T>(bins));
  if (!(points > 0)) {
    return 0;
  }
  return points < static_cast<T>(kMaxSamplesPerAxis) ? static_cast<int64_t>(points)
                                                     : kMaxSamplesPerAxis;
}

// roi = (batch, x1, y1, x2, y2) in any floating type, computed in T. `offset`
// is subtracted from the scaled corners (0.5 for half-pixel alignment);
// `min_size_one` forces RoIs to at least 1×1 as non-aligned RoIAlign does.
template <typename T, typename Roi>
ROISERVE_HOST_DEVICE RoISampling<T> roi_sampling(const Roi* roi, T spatial_scale, T offset,
                                                 bool min_size_one, int64_t pooled_height,
                                                 int64_t pooled_width, int64_t sampling_ratio) {
  RoISampling<T> s;
  s.start_w = static_cast<T>(roi[1]) * spatial_scale - offset;
  s.start_h = static_cast<T>(roi[2]) * spatial_scale - offset;
  T roi_width = static_cast<T>(roi[3]) * spatial_scale - offset - s.start_w;
  T roi_height = static_cast<T>(roi[4]) * spatial_scale - offset - s.start_h;
  if (min_size_one) {
    roi_width = roi_width > static_cast<T>(1.) ? roi_width : static_cast<T>(1.);
    roi_height = roi_height > static_cast<T>(1.) ? roi_height : static_cast<T>(1.);
  }
  s.bin_h = roi_height / static_cast<T>(pooled_height);
  s.bin_w = roi_width / static_cast<T>(pooled_width);
  s.grid_h = sampling_ratio > 0 ? sampling_ratio : adaptive_samples(roi_height, pooled_height);
  s.grid_w = sampling_ratio > 0 ? sampling_ratio : adaptive_samples(roi_width, pooled_width);
  const int64_t points = s.grid_h * s.grid_w;
  s.count = static_cast<T>(points > 1 ? points : 1);
  return s;
}

// The four taps of one sample point and their weights (top-left, top-right,
// bottom-left, bottom-right), each computed as torchvision computes it.
template <typename T>
struct Taps {
  int64_t y_low, y_high, x_low, x_high;
  T w1, w2, w3, w4;
};

template <typename T>
ROISERVE_HOST_DEVICE Taps<T> taps_of(const AxisSample<T>& sy, const AxisSample<T>& sx) {
  return {sy.low,
          sy.high,
          sx.low,
          sx.high,
          sy.weight_low * sx.weight_low,
          sy.weight_low * sx.weight_high,
          sy.weight_high * sx.weight_low,
          sy.weight_high * sx.weight_high};
}

}  // namespace roiserve::ops::cuda
