#pragma once
// Detections drawn onto their image, for people to look at: each class in a
// colour of its own, masks blended in translucently, boxes outlined and
// labelled "class score".
#include <ATen/core/Tensor.h>

#include <vector>

#include "tools/common/detections_json.h"

namespace roiserve::tools {

// A new [3, H, W] uint8 RGB image (on the CPU): `image` with the masks of all
// detections blended in, then every box outlined and labelled above its top
// edge (inside it where the image ends above). Segmentations must have the
// image's size. Throws std::invalid_argument otherwise.
at::Tensor draw_detections(const at::Tensor& image, const std::vector<DetectionRecord>& detections);

}  // namespace roiserve::tools
