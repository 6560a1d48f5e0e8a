#pragma once
// The detections JSON that roiserve-detect writes and clients read back:
//
// {"images": [{"file": "a.jpg", "width": W, "height": H,
//              "timings_ms": {"backbone": 12.5, ..., "total": 40.1},
//              "detections": [{"bbox": [x1, y1, x2, y2], "category_id": 1,
//                              "category": "circle", "score": 0.93,
//                              "segmentation": {"size": [H, W], "counts": "..."}}]}]}
//
// Boxes are in image pixels; category_id is the model's label (1..number of
// classes, an index into its class names plus one); a segmentation is a COCO
// compressed RLE of the whole image, present only when masks were computed.
//
// Plain data and JSON only (nlohmann-json, the COCO RLE code), for programs
// with and without LibTorch alike; records of the detector's own results are
// made by tools/detector_io/detection_results.h.
#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "detector/eval/rle.h"

namespace roiserve::tools {

struct DetectionRecord {
  std::array<double, 4> bbox{};  // x1, y1, x2, y2
  int64_t category_id = 0;
  std::string category;
  double score = 0;
  std::optional<eval::Rle> segmentation;
};

struct ImageRecord {
  std::string file;
  int64_t width = 0;
  int64_t height = 0;
  std::map<std::string, double> timings_ms;  // every stage that ran, and "total"
  std::vector<DetectionRecord> detections;
};

// The double nearest to the shortest decimal that reads back as `value`, so
// that the JSON says 0.93 rather than 0.9300000071525879 for a float32 score.
double shortest_double(float value);

// nlohmann::json conversions, found by argument-dependent lookup:
// json j = record; record = j.get<ImageRecord>(). Reading throws
// nlohmann::json::exception or std::invalid_argument on malformed input.
void to_json(nlohmann::json& json, const DetectionRecord& record);
void from_json(const nlohmann::json& json, DetectionRecord& record);
void to_json(nlohmann::json& json, const ImageRecord& record);
void from_json(const nlohmann::json& json, ImageRecord& record);

// The whole document, {"images": [...]}. Parsing throws std::invalid_argument
// naming what is malformed.
nlohmann::json detections_document(const std::vector<ImageRecord>& images);
std::vector<ImageRecord> parse_detections_document(const nlohmann::json& document);

}  // namespace roiserve::tools
