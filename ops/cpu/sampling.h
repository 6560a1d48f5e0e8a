#pragma once
// Where the RoI ops read the feature map, computed once per RoI and shared by
// every channel. Both kinds of geometry are separable: a bin's rows depend on
// its row index alone and its columns on its column index alone, so a RoI needs
// pooled_height + pooled_width descriptors rather than one per bin.
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "ops/common/axis_sample.h"
#include "ops/common/bin_range.h"
#include "ops/cpu/simd.h"

namespace roiserve::ops::cpu {

using ops::axis_sample;
using ops::AxisSample;
using ops::bin_range;
using ops::BinRange;
using ops::rounded_cell;

// The sampling points of one RoI for RoIAlign-style ops: grid_h × grid_w points
// per bin, ys[ph * grid_h + iy] and xs[pw * grid_w + ix].
template <typename T>
struct SampleGrid {
  int64_t grid_h = 0;
  int64_t grid_w = 0;
  T count = 1;  // points averaged per bin (at least 1, so an empty grid gives 0)
  std::vector<AxisSample<T>> ys;
  std::vector<AxisSample<T>> xs;
};

// Adaptive sampling takes ceil(bin size) points per bin along an axis. A RoI
// thousands of times larger than the map would take billions of points (and
// overflow the count), so such a RoI is an error rather than a hang.
template <typename T>
int64_t adaptive_grid(const char* op, T roi_size, int64_t bins) {
  constexpr double kMaxPointsPerAxis = 1 << 16;
  const T points = std::ceil(roi_size / static_cast<T>(bins));
  TORCH_CHECK_VALUE(points <= kMaxPointsPerAxis, op,
                    ": adaptive sampling (sampling_ratio <= 0) would take ", points,
                    " points per bin along one axis (at most ", kMaxPointsPerAxis,
                    "); the RoI is far larger than the feature map");
  return points > 0 ? static_cast<int64_t>(points) : 0;
}

// roi = (batch, x1, y1, x2, y2). `offset` is subtracted from the scaled corners
// (0.5 for half-pixel alignment); `min_size_one` forces RoIs to at least 1×1
// as torchvision's non-aligned RoIAlign does.
template <typename T>
void compute_sample_grid(const char* op, const T* roi, T spatial_scale, T offset, bool min_size_one,
                         int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio,
                         int64_t height, int64_t width, SampleGrid<T>& grid) {
  const T start_w = roi[1] * spatial_scale - offset;
  const T start_h = roi[2] * spatial_scale - offset;
  T roi_width = roi[3] * spatial_scale - offset - start_w;
  T roi_height = roi[4] * spatial_scale - offset - start_h;
  if (min_size_one) {
    roi_width = std::max(roi_width, static_cast<T>(1.));
    roi_height = std::max(roi_height, static_cast<T>(1.));
  }
  const T bin_h = roi_height / static_cast<T>(pooled_height);
  const T bin_w = roi_width / static_cast<T>(pooled_width);
  grid.grid_h = sampling_ratio > 0 ? sampling_ratio : adaptive_grid(op, roi_height, pooled_height);
  grid.grid_w = sampling_ratio > 0 ? sampling_ratio : adaptive_grid(op, roi_width, pooled_width);
  grid.count = static_cast<T>(std::max<int64_t>(grid.grid_h * grid.grid_w, 1));

  // The same expressions, in the same order, as torchvision's sample points.
  grid.ys.resize(pooled_height * grid.grid_h);
  for (int64_t ph = 0; ph < pooled_height; ++ph) {
    for (int64_t iy = 0; iy < grid.grid_h; ++iy) {
      const T y = start_h + static_cast<T>(ph) * bin_h +
                  static_cast<T>(iy + .5f) * bin_h / static_cast<T>(grid.grid_h);
      grid.ys[ph * grid.grid_h + iy] = axis_sample(y, height);
    }
  }
  grid.xs.resize(pooled_width * grid.grid_w);
  for (int64_t pw = 0; pw < pooled_width; ++pw) {
    for (int64_t ix = 0; ix < grid.grid_w; ++ix) {
      const T x = start_w + static_cast<T>(pw) * bin_w +
                  static_cast<T>(ix + .5f) * bin_w / static_cast<T>(grid.grid_w);
      grid.xs[pw * grid.grid_w + ix] = axis_sample(x, width);
    }
  }
}

// One bilinear sample point inside the map: the pixel rows and columns of its
// four taps, and the taps' weights w1..w4 (top-left, top-right, bottom-left,
// bottom-right), each computed as torchvision computes it.
template <typename T>
struct BilinearSample {
  int64_t y_low, y_high, x_low, x_high;
  T w1, w2, w3, w4;
};

// fn(sample) for every point of a bin's grid, rows ys[0, grid_h) × columns
// xs[0, grid_w), that lies inside the map, in torchvision's order.
template <typename T, typename F>
ROISERVE_ALWAYS_INLINE void for_each_sample(const AxisSample<T>* ys, int64_t grid_h,
                                            const AxisSample<T>* xs, int64_t grid_w, const F& fn) {
  for (int64_t iy = 0; iy < grid_h; ++iy) {
    const AxisSample<T>& sy = ys[iy];
    if (!sy.valid) {
      continue;
    }
    for (int64_t ix = 0; ix < grid_w; ++ix) {
      const AxisSample<T>& sx = xs[ix];
      if (!sx.valid) {
        continue;
      }
      fn(BilinearSample<T>{sy.low, sy.high, sx.low, sx.high, sy.weight_low * sx.weight_low,
                           sy.weight_low * sx.weight_high, sy.weight_high * sx.weight_low,
                           sy.weight_high * sx.weight_high});
    }
  }
}

// Every bin of a RoI along one axis (see bin_range).
template <typename T>
void compute_bin_ranges(int64_t roi_start, int64_t length, int64_t bins, int64_t limit,
                        std::vector<BinRange>& out) {
  out.resize(bins);
  for (int64_t i = 0; i < bins; ++i) {
    out[i] = bin_range<T>(roi_start, length, bins, i, limit);
  }
}

}  // namespace roiserve::ops::cpu
