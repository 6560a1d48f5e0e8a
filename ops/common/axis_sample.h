#pragma once
// One coordinate of a bilinear sample, shared by every kernel that samples
// (RoIAlign, PSRoIAlign) on every device.
#include <cstdint>

#include "ops/common/host_device.h"

namespace roiserve::ops {

// The two neighbours a sample reads along one axis and their weights, with
// torchvision's border rules (a sample more than one pixel outside the map
// reads nothing; one within clamps to the border).
template <typename T>
struct AxisSample {
  int64_t low = 0;
  int64_t high = 0;
  T weight_low = 0;
  T weight_high = 0;
  bool valid = false;
};

template <typename T>
ROISERVE_HOST_DEVICE AxisSample<T> axis_sample(T coordinate, int64_t size) {
  AxisSample<T> sample;
  // Written so that a NaN coordinate also lands here.
  if (!(coordinate >= static_cast<T>(-1.0) && coordinate <= static_cast<T>(size))) {
    return sample;
  }
  if (coordinate <= 0) {
    coordinate = 0;
  }
  sample.low = static_cast<int64_t>(coordinate);
  if (sample.low >= size - 1) {
    sample.high = sample.low = size - 1;
    coordinate = static_cast<T>(sample.low);
  } else {
    sample.high = sample.low + 1;
  }
  const T fraction = coordinate - static_cast<T>(sample.low);
  sample.weight_low = static_cast<T>(1.) - fraction;
  sample.weight_high = fraction;
  sample.valid = true;
  return sample;
}

}  // namespace roiserve::ops
