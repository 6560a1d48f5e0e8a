#pragma once
// COCO's JSON forms of a segmentation: an RLE dict {"size": [H, W], "counts": ...}
// with compressed (string) or uncompressed (list) counts, or a list of polygons.
#include <cstdint>
#include <nlohmann/json.hpp>

#include "detector/eval/rle.h"

namespace roiserve::tools {

// {"size": [H, W], "counts": compressed string}, as pycocotools writes results.
nlohmann::json rle_to_json(const eval::Rle& rle);

// An RLE dict with compressed or uncompressed counts. Throws
// std::invalid_argument when it is malformed or its counts do not cover H x W.
eval::Rle rle_from_json(const nlohmann::json& json);

// A COCO annotation's "segmentation" of an image of height x width: an RLE dict
// of that size, or polygons [[x0, y0, x1, y1, ...], ...] rasterized and merged
// as pycocotools' annToRLE does. Throws std::invalid_argument otherwise.
eval::Rle segmentation_from_json(const nlohmann::json& json, int64_t height, int64_t width);

}  // namespace roiserve::tools
