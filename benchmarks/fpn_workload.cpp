#include "fpn_workload.h"

#include <ATen/CPUGeneratorImpl.h>

namespace roiserve::bench {

namespace {

// Boxes (x1, y1, x2, y2) with sides of 8 to 300 px, inside the image.
at::Tensor random_boxes(int64_t count, const at::Generator& gen) {
  const at::Tensor extent = at::tensor({kImageWidth, kImageHeight}, at::kFloat);
  const at::Tensor size = at::rand({count, 2}, gen) * 292 + 8;
  const at::Tensor top_left = at::rand({count, 2}, gen) * (extent - size);
  return at::cat({top_left, top_left + size}, 1);
}

FpnWorkload build_fpn_workload() {
  // The order of the draws is part of the recipe shared with compare_torchvision.py.
  const at::Generator gen = at::detail::createCPUGenerator(0);
  const int64_t height = kImageHeight / 8;
  const int64_t width = kImageWidth / 8;
  FpnWorkload workload;
  workload.features = at::randn({kBatch, kChannels, height, width}, gen);
  workload.position_sensitive_features =
      at::randn({kBatch, kPositionSensitiveChannels, height, width}, gen);
  const at::Tensor batch_index = at::randint(kBatch, {kNumRois, 1}, gen, at::kFloat);
  workload.rois = at::cat({batch_index, random_boxes(kNumRois, gen)}, 1);
  workload.nms_boxes = random_boxes(kNumNmsBoxes, gen);
  workload.nms_scores = at::rand({kNumNmsBoxes}, gen);
  return workload;
}

}  // namespace

const FpnWorkload& fpn_workload() {
  static const FpnWorkload workload = build_fpn_workload();
  return workload;
}

}  // namespace roiserve::bench
