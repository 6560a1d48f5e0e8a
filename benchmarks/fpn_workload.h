#pragma once
// The benchmark workload: one level of a Feature Pyramid Network at stride 8
// for a batch of two 800×1216 images. compare_torchvision.py builds the same
// tensors with the same recipe and seed.
#include <ATen/ATen.h>

#include <cstdint>

namespace roiserve::bench {

constexpr int64_t kBatch = 2;
constexpr int64_t kImageHeight = 800;
constexpr int64_t kImageWidth = 1216;
constexpr double kSpatialScale = 1.0 / 8;
constexpr int64_t kChannels = 256;
// Position-sensitive ops: 10 score maps of 7×7 bins.
constexpr int64_t kPositionSensitiveChannels = 10 * 7 * 7;
constexpr int64_t kPooledSize = 7;
constexpr int64_t kSamplingRatio = 2;
constexpr int64_t kNumRois = 1000;
constexpr int64_t kNumNmsBoxes = 4000;
constexpr double kNmsThreshold = 0.7;

struct FpnWorkload {
  at::Tensor features;                     // [2, 256, 100, 152]
  at::Tensor position_sensitive_features;  // [2, 490, 100, 152]
  at::Tensor rois;                         // [1000, 5], sides of 8 to 300 px
  at::Tensor nms_boxes;                    // [4000, 4]
  at::Tensor nms_scores;                   // [4000]
};

// Built on first use, then shared by every benchmark.
const FpnWorkload& fpn_workload();

}  // namespace roiserve::bench
