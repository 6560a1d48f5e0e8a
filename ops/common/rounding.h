#pragma once
// <cmath>'s rounding for code compiled for both sides: device code cannot call
// std::floor and its kin, and the host compiler does not see CUDA's overloads.
#include <cmath>

#include "ops/common/host_device.h"

namespace roiserve::ops {

template <typename T>
ROISERVE_HOST_DEVICE T floor_of(T value) {
#if defined(__CUDA_ARCH__)
  return floor(value);
#else
  return std::floor(value);
#endif
}

template <typename T>
ROISERVE_HOST_DEVICE T ceil_of(T value) {
#if defined(__CUDA_ARCH__)
  return ceil(value);
#else
  return std::ceil(value);
#endif
}

// Halfway cases away from zero, as std::round.
template <typename T>
ROISERVE_HOST_DEVICE T round_of(T value) {
#if defined(__CUDA_ARCH__)
  return round(value);
#else
  return std::round(value);
#endif
}

}  // namespace roiserve::ops
