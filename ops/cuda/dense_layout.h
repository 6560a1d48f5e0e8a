#pragma once
// Element addressing in the dense layouts the kernels read and write.
#include <cstdint>

#include "ops/common/host_device.h"

namespace roiserve::ops::cuda {

// Where element (channel, bin) of a RoI lies in a [K, C, PH, PW] tensor or in a
// [N, C, H, W] map, in either layout.
struct Layout {
  bool channels_last;
  int64_t channels, bins;  // bins: PH * PW for outputs, H * W for maps

  ROISERVE_HOST_DEVICE int64_t at(int64_t item, int64_t channel, int64_t bin) const {
    return channels_last ? (item * bins + bin) * channels + channel
                         : (item * channels + channel) * bins + bin;
  }
};

}  // namespace roiserve::ops::cuda
