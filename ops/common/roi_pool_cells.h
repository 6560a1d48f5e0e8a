#pragma once
// How RoIPool (and SPP, which is RoIPool at several sizes) quantizes a RoI
// into bins, on every device.
#include <cstdint>

#include "ops/common/bin_range.h"
#include "ops/common/host_device.h"

namespace roiserve::ops {

// RoIPool's cells of one RoI, computed in T: corners rounded to cells and both
// included, malformed RoIs forced to 1×1, bins clipped to [0, H] × [0, W].
template <typename T>
struct RoIPoolCells {
  int64_t start_h, start_w, height, width;

  ROISERVE_HOST_DEVICE BinRange row(int64_t ph, int64_t pooled_height, int64_t map_height) const {
    return bin_range<T>(start_h, height, pooled_height, ph, map_height);
  }
  ROISERVE_HOST_DEVICE BinRange col(int64_t pw, int64_t pooled_width, int64_t map_width) const {
    return bin_range<T>(start_w, width, pooled_width, pw, map_width);
  }
};

// roi = (batch, x1, y1, x2, y2) of any floating type.
template <typename T, typename Roi>
ROISERVE_HOST_DEVICE RoIPoolCells<T> roi_pool_cells(const Roi* roi, T spatial_scale) {
  const int64_t start_w = rounded_cell(static_cast<T>(roi[1]), spatial_scale);
  const int64_t start_h = rounded_cell(static_cast<T>(roi[2]), spatial_scale);
  const int64_t width = rounded_cell(static_cast<T>(roi[3]), spatial_scale) - start_w + 1;
  const int64_t height = rounded_cell(static_cast<T>(roi[4]), spatial_scale) - start_h + 1;
  return {start_h, start_w, height > 1 ? height : 1, width > 1 ? width : 1};
}

}  // namespace roiserve::ops
