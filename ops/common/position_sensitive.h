#pragma once
// What the position-sensitive ops (PSRoIPool, PSRoIAlign) mean on every
// device: which input channel an output element reads, and PSRoIPool's bins.
#include <ATen/ATen.h>

#include <cstdint>

#include "ops/common/bin_range.h"
#include "ops/common/host_device.h"

namespace roiserve::ops {

// Output channel c_out of bin (ph, pw) reads input channel
// c = c_out * PH * PW + ph * PW + pw: c is the element's flat index within its
// RoI, and its bin is ((c / PW) % PH, c % PW).
struct PositionSensitiveBin {
  int64_t ph;
  int64_t pw;
};

ROISERVE_HOST_DEVICE inline PositionSensitiveBin bin_of_channel(int64_t channel,
                                                                int64_t pooled_height,
                                                                int64_t pooled_width) {
  const int64_t bin = channel % (pooled_height * pooled_width);
  return {bin / pooled_width, bin % pooled_width};
}

// The channel_mapping output: [K, C_out, PH, PW] holding the input channel
// each output element read, which is always its own flat index within the RoI.
inline at::Tensor position_sensitive_channel_mapping(int64_t num_rois, int64_t channels,
                                                     int64_t pooled_height, int64_t pooled_width,
                                                     const at::TensorOptions& options) {
  return at::arange(channels, options.dtype(at::kInt))
      .repeat({num_rois, 1})
      .view({num_rois, channels / (pooled_height * pooled_width), pooled_height, pooled_width});
}

// PSRoIPool's cells of one RoI, computed in T: corners rounded to cells, RoIs
// smaller than a cell forced to 1×1, and bins clipped to [0, H - 1] ×
// [0, W - 1], so that they never reach the last row or column (torchvision's
// forward; its backward clips differently, see ps_roi_pool_kernel.cpp).
template <typename T>
struct PSRoIPoolCells {
  int64_t start_h, start_w, height, width;

  ROISERVE_HOST_DEVICE BinRange row(int64_t ph, int64_t pooled_height, int64_t map_height) const {
    return bin_range<T>(start_h, height, pooled_height, ph, map_height - 1);
  }
  ROISERVE_HOST_DEVICE BinRange col(int64_t pw, int64_t pooled_width, int64_t map_width) const {
    return bin_range<T>(start_w, width, pooled_width, pw, map_width - 1);
  }
};

// roi = (batch, x1, y1, x2, y2) of any floating type.
template <typename T, typename Roi>
ROISERVE_HOST_DEVICE PSRoIPoolCells<T> ps_roi_pool_cells(const Roi* roi, T spatial_scale) {
  const int64_t start_w = rounded_cell(static_cast<T>(roi[1]), spatial_scale);
  const int64_t start_h = rounded_cell(static_cast<T>(roi[2]), spatial_scale);
  const int64_t width = rounded_cell(static_cast<T>(roi[3]), spatial_scale) - start_w;
  const int64_t height = rounded_cell(static_cast<T>(roi[4]), spatial_scale) - start_h;
  return {start_h, start_w, height > 1 ? height : 1, width > 1 ? width : 1};
}

}  // namespace roiserve::ops
