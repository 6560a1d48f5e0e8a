#include "tools/common/detections_json.h"

#include <ATen/ATen.h>

#include <charconv>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>

#include "tools/common/segmentation_json.h"

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

double shortest_double(float value) {
  char digits[32];
  const auto end = std::to_chars(digits, digits + sizeof(digits) - 1, value).ptr;
  *end = '\0';
  return std::strtod(digits, nullptr);
}

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

void to_json(nlohmann::json& json, const DetectionRecord& record) {
  json = {{"bbox", record.bbox},
          {"category_id", record.category_id},
          {"category", record.category},
          {"score", record.score}};
  if (record.segmentation) json["segmentation"] = rle_to_json(*record.segmentation);
}

void from_json(const nlohmann::json& json, DetectionRecord& record) {
  const nlohmann::json& bbox = json.at("bbox");
  if (!bbox.is_array() || bbox.size() != 4) {
    throw std::invalid_argument("\"bbox\" must be [x1, y1, x2, y2]");
  }
  record.bbox = bbox.get<std::array<double, 4>>();
  record.category_id = json.at("category_id").get<int64_t>();
  record.category = json.at("category").get<std::string>();
  record.score = json.at("score").get<double>();
  record.segmentation.reset();
  if (json.contains("segmentation")) record.segmentation = rle_from_json(json["segmentation"]);
}

void to_json(nlohmann::json& json, const ImageRecord& record) {
  json = {{"file", record.file},
          {"width", record.width},
          {"height", record.height},
          {"timings_ms", record.timings_ms},
          {"detections", record.detections}};
}

void from_json(const nlohmann::json& json, ImageRecord& record) {
  record.file = json.at("file").get<std::string>();
  record.width = json.at("width").get<int64_t>();
  record.height = json.at("height").get<int64_t>();
  record.timings_ms = json.at("timings_ms").get<std::map<std::string, double>>();
  record.detections = json.at("detections").get<std::vector<DetectionRecord>>();
}

nlohmann::json detections_document(const std::vector<ImageRecord>& images) {
  return {{"images", images}};
}

std::vector<ImageRecord> parse_detections_document(const nlohmann::json& document) {
  if (!document.is_object() || !document.contains("images") || !document["images"].is_array()) {
    throw std::invalid_argument("detections JSON: expected {\"images\": [...]}");
  }
  std::vector<ImageRecord> images;
  for (const nlohmann::json& image : document["images"]) {
    try {
      images.push_back(image.get<ImageRecord>());
    } catch (const std::exception& error) {
      throw std::invalid_argument("detections JSON, image " + std::to_string(images.size()) +
                                  ": " + error.what());
    }
  }
  return images;
}

}  // namespace roiserve::tools
