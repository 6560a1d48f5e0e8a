#pragma once
// Ground truth of one training image, in network-input coordinates.
#include <ATen/core/Tensor.h>

namespace roiserve::detector {

struct InstanceTargets {
  at::Tensor boxes;   // [G, 4] float32 (x1, y1, x2, y2)
  at::Tensor labels;  // [G] int64, 1..num_classes
  at::Tensor masks;   // [G, H, W] uint8 (undefined when masks are not trained)
};

}  // namespace roiserve::detector
