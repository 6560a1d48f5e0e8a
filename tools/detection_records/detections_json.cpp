#include "tools/detection_records/detections_json.h"

#include <charconv>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "tools/detection_records/segmentation_json.h"

namespace roiserve::tools {

double shortest_double(float value) {
  char digits[32];
  const auto end = std::to_chars(digits, digits + sizeof(digits) - 1, value).ptr;
  *end = '\0';
  return std::strtod(digits, nullptr);
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
