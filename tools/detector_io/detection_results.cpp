#include "tools/detector_io/detection_results.h"

#include <ATen/ATen.h>

#include <stdexcept>
#include <utility>

#include "detector/eval/rle_tensor.h"

namespace roiserve::tools {
namespace {

const std::string& class_name(const detector::ModelConfig& model, int64_t label) {
  if (label < 1 || label > static_cast<int64_t>(model.class_names.size())) {
    throw std::invalid_argument("label " + std::to_string(label) + " is not a class of model '" +
                                model.name + "'");
  }
  return model.class_names[static_cast<size_t>(label - 1)];
}

}  // namespace

ImageRecord make_image_record(std::string file, const detector::ImageDetections& detections,
                              const detector::StageTimings& timings,
                              const detector::ModelConfig& model) {
  ImageRecord record;
  record.file = std::move(file);
  record.width = detections.image_size.width;
  record.height = detections.image_size.height;
  for (const auto& [stage, milliseconds] : timings.entries()) {
    record.timings_ms[stage] = milliseconds;
  }
  const at::Tensor boxes = detections.boxes.to(at::kCPU, at::kFloat).contiguous();
  const at::Tensor scores = detections.scores.to(at::kCPU, at::kFloat).contiguous();
  const at::Tensor labels = detections.labels.to(at::kCPU, at::kLong).contiguous();
  const auto box = boxes.accessor<float, 2>();
  const auto score = scores.accessor<float, 1>();
  const auto label = labels.accessor<int64_t, 1>();
  for (int64_t i = 0; i < boxes.size(0); ++i) {
    DetectionRecord detection;
    for (size_t k = 0; k < 4; ++k) {
      detection.bbox[k] = shortest_double(box[i][static_cast<int64_t>(k)]);
    }
    detection.category_id = label[i];
    detection.category = class_name(model, label[i]);
    detection.score = shortest_double(score[i]);
    if (!detections.masks.empty()) {
      const detector::MaskPatch& mask = detections.masks.at(static_cast<size_t>(i));
      detection.segmentation =
          eval::encode_patch(mask.probabilities > model.roi_heads.mask.threshold, mask.top,
                             mask.left, record.height, record.width);
    }
    record.detections.push_back(std::move(detection));
  }
  return record;
}

}  // namespace roiserve::tools
