#include "tools/detection_records/segmentation_json.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

namespace roiserve::tools {
namespace {

bool is_number(const nlohmann::json& value) { return value.is_number(); }

}  // namespace

nlohmann::json rle_to_json(const eval::Rle& rle) {
  return {{"size", {rle.height, rle.width}}, {"counts", eval::to_compressed_string(rle)}};
}

eval::Rle rle_from_json(const nlohmann::json& json) {
  try {
    const auto size = json.at("size").get<std::vector<int64_t>>();
    if (size.size() != 2) throw std::invalid_argument("\"size\" must be [height, width]");
    const nlohmann::json& counts = json.at("counts");
    if (counts.is_string()) {
      return eval::from_compressed_string(counts.get<std::string>(), size[0], size[1]);
    }
    eval::Rle rle{size[0], size[1], counts.get<std::vector<uint32_t>>()};
    eval::area(rle);  // checks that the counts cover the image
    return rle;
  } catch (const nlohmann::json::exception& error) {
    throw std::invalid_argument(std::string("invalid RLE: ") + error.what());
  }
}

eval::Rle segmentation_from_json(const nlohmann::json& json, int64_t height, int64_t width) {
  if (json.is_array()) {
    std::vector<eval::Rle> polygons;
    for (const nlohmann::json& polygon : json) {
      if (!polygon.is_array() || !std::all_of(polygon.begin(), polygon.end(), is_number)) {
        throw std::invalid_argument("invalid segmentation: a polygon must be a list of numbers");
      }
      polygons.push_back(eval::from_polygon(polygon.get<std::vector<double>>(), height, width));
    }
    // merge() of no masks has no size to give the empty mask.
    return polygons.empty() ? eval::from_polygon({}, height, width) : eval::merge(polygons);
  }
  if (!json.is_object()) {
    throw std::invalid_argument("invalid segmentation: expected polygons or an RLE dict, got " +
                                std::string(json.type_name()));
  }
  eval::Rle rle = rle_from_json(json);
  if (rle.height != height || rle.width != width) {
    throw std::invalid_argument("RLE segmentation of size " + std::to_string(rle.height) + " x " +
                                std::to_string(rle.width) + " in an image of " +
                                std::to_string(height) + " x " + std::to_string(width));
  }
  return rle;
}

}  // namespace roiserve::tools
