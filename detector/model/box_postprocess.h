#pragma once
// From a box head's predictions to detections (torchvision's
// postprocess_detections): softmax scores, per-class decoded boxes clipped to
// the image, background dropped, scores > threshold, tiny boxes dropped,
// per-class NMS, the best max_detections.
#include <ATen/core/Tensor.h>

#include <vector>

#include "detector/config/model_config.h"
#include "detector/heads/box_head.h"
#include "detector/model/image_batch.h"

namespace roiserve::detector {

struct BoxDetections {
  at::Tensor boxes;   // [D, 4] float32, network-input coordinates
  at::Tensor scores;  // [D]
  at::Tensor labels;  // [D] int64, 1..num_classes
};

std::vector<BoxDetections> postprocess_boxes(const BoxPrediction& prediction,
                                             const std::vector<at::Tensor>& proposals,
                                             const std::vector<ImageSize>& image_sizes,
                                             const std::vector<double>& box_coder_weights,
                                             const PostprocessConfig& config);

}  // namespace roiserve::detector
