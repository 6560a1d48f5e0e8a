#pragma once
// The quantized bins of the RoIPool-style ops (RoIPool, PSRoIPool, SPP), shared
// by the CPU and CUDA kernels: a bin is a whole number of cells along each axis.
#include <algorithm>
#include <cstdint>

#include "ops/common/host_device.h"
#include "ops/common/rounding.h"

namespace roiserve::ops {

// A bin along one axis: cells [start, end).
struct BinRange {
  int64_t start = 0;
  int64_t end = 0;
  ROISERVE_HOST_DEVICE bool empty() const { return end <= start; }
};

// Bin `index` of `bins` that split a RoI of `length` cells starting at cell
// `roi_start` (floor of the start, ceil of the end), clipped to [0, limit].
template <typename T>
ROISERVE_HOST_DEVICE BinRange bin_range(int64_t roi_start, int64_t length, int64_t bins,
                                        int64_t index, int64_t limit) {
  const T bin_size = static_cast<T>(length) / static_cast<T>(bins);
  const auto start = static_cast<int64_t>(floor_of(static_cast<T>(index) * bin_size));
  const auto end = static_cast<int64_t>(ceil_of(static_cast<T>(index + 1) * bin_size));
  return {std::min(std::max(start + roi_start, int64_t{0}), limit),
          std::min(std::max(end + roi_start, int64_t{0}), limit)};
}

// A RoI corner scaled to the feature map and rounded to a cell, as RoIPool does.
// Converting a float outside int64's range is undefined behaviour (libFuzzer
// found a finite corner at 5e26; the argument checks refuse non-finite ones),
// so corners are clamped to ±2^30 cells, which no feature map nears.
template <typename T>
ROISERVE_HOST_DEVICE int64_t rounded_cell(T coordinate, T spatial_scale) {
  constexpr T kFarthest = static_cast<T>(int64_t{1} << 30);
  return static_cast<int64_t>(
      std::clamp(round_of(coordinate * spatial_scale), -kFarthest, kFarthest));
}

}  // namespace roiserve::ops
