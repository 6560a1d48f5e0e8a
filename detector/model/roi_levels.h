#pragma once
// RoIs in the pooling ops' format, with the FPN level each one pools from.
#include <ATen/core/Tensor.h>

#include <functional>
#include <vector>

#include "detector/config/model_config.h"

namespace roiserve::detector {

struct LevelledRois {
  at::Tensor rois;    // [K, 5] (image index, x1, y1, x2, y2), network-input coordinates
  at::Tensor levels;  // [K] int64: 0 for P2 ... kNumPooledLevels - 1 for P5
};

// Per-image boxes -> one [K, 5] RoI tensor with the level each RoI maps to
// (torchvision's LevelMapper, float32 arithmetic included).
LevelledRois assign_roi_levels(const std::vector<at::Tensor>& boxes_per_image,
                               const LevelMapperConfig& config);

// The spatial scale of pooled level l (1/4 for P2 ...).
double pooled_level_scale(int64_t level);

// Runs `pool(feature, level_rois, spatial_scale)` on each level that has RoIs
// and returns the results in the RoIs' order (differentiable).
using LevelPoolFn =
    std::function<at::Tensor(const at::Tensor& feature, const at::Tensor& rois, double scale)>;
at::Tensor pool_by_level(const std::vector<at::Tensor>& features, const LevelledRois& rois,
                         const LevelPoolFn& pool);

}  // namespace roiserve::detector
