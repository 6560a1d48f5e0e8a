#pragma once
// One training image and its ground truth, and where they come from.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>

#include "detector/model/targets.h"

namespace roiserve::detector {

struct TrainingExample {
  at::Tensor image;  // [3, H, W] uint8 RGB
  InstanceTargets targets;
};

class TrainingSource {
 public:
  virtual ~TrainingSource() = default;
  // Any index >= 0; a finite source wraps around. Must be callable from a
  // background thread.
  virtual TrainingExample example(int64_t index) const = 0;
};

// shapes-v1 generated on the fly from (seed, index).
std::unique_ptr<TrainingSource> make_shapes_source(uint64_t seed);

// Mirrors image, boxes and masks left to right.
TrainingExample flip_horizontally(const TrainingExample& example);

}  // namespace roiserve::detector
