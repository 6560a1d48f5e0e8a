#pragma once
// PSRoIAlign's way of pooling a bin, for the position-sensitive kernels
// (position_sensitive_blocks.h), compiled by nvcc for the GPU and by the host
// compiler for the emulation (host/). A block's threads first lay out its
// RoI's sample rows and columns in shared memory (sample_table.h), then each
// pools its channel's bin from them. Semantics are the CPU kernel's
// (ops/cpu/ps_roi_align_kernel.cpp): always half-pixel aligned, never forced
// to 1×1, and a bin without sample points (adaptive sampling of a zero-area
// RoI) pools to 0.
#include <cstdint>

#include "ops/common/axis_sample.h"
#include "ops/common/position_sensitive.h"
#include "ops/cuda/position_sensitive_blocks.h"
#include "ops/cuda/sample_grid.h"
#include "ops/cuda/sample_table.h"

namespace roiserve::ops::cuda {

template <typename acc_t>
struct PSRoIAlignMethod {
  using Table = SampleTable<acc_t>;
  acc_t spatial_scale;
  int64_t sampling_ratio;

  template <typename Roi>
  ROISERVE_HOST_DEVICE Table table(const Roi* roi, const PositionSensitiveShape& shape,
                                   AxisSample<acc_t>* shared) const {
    return Table(roi_sampling<acc_t>(roi, spatial_scale, acc_t(0.5), false, shape.pooled_height,
                                     shape.pooled_width, sampling_ratio),
                 shape.pooled_height, shape.pooled_width, shape.height, shape.width, shared);
  }

  template <typename Read>
  ROISERVE_HOST_DEVICE acc_t pool(const Table& table, const PositionSensitiveShape& shape,
                                  const PositionSensitiveBin& bin, const Read& read) const {
    const int64_t width = shape.width;
    acc_t sum = 0;
    for_each_tap(table, bin.ph, bin.pw, [&](const Taps<acc_t>& t) {
      const acc_t v1 = read(t.y_low * width + t.x_low);
      const acc_t v2 = read(t.y_low * width + t.x_high);
      const acc_t v3 = read(t.y_high * width + t.x_low);
      const acc_t v4 = read(t.y_high * width + t.x_high);
      sum += t.w1 * v1 + t.w2 * v2 + t.w3 * v3 + t.w4 * v4;
    });
    return sum / table.sampling().count;
  }

  // The four taps of each sample, in turn.
  template <typename Add>
  ROISERVE_HOST_DEVICE void scatter(const Table& table, const PositionSensitiveShape& shape,
                                    const PositionSensitiveBin& bin, acc_t g,
                                    const Add& add) const {
    const int64_t width = shape.width;
    const acc_t count = table.sampling().count;
    for_each_tap(table, bin.ph, bin.pw, [&](const Taps<acc_t>& t) {
      add(t.y_low * width + t.x_low, g * t.w1 / count);
      add(t.y_low * width + t.x_high, g * t.w2 / count);
      add(t.y_high * width + t.x_low, g * t.w3 / count);
      add(t.y_high * width + t.x_high, g * t.w4 / count);
    });
  }
};

}  // namespace roiserve::ops::cuda
