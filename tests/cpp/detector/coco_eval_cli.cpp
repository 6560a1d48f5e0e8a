// roiserve_coco_eval_cli: detector/eval behind JSON on stdin and stdout, for
// tests/python/test_coco_eval_parity.py to compare with pycocotools.
//
// Input:  {"rle_ops": [op, ...], "evaluations": [evaluation, ...]}
// Output: {"rle_ops": [result, ...], "evaluations": [result, ...]}
//
// RLE ops ("op" names one; masks are flat row-major 0/1 lists, RLEs compressed
// strings of a height x width image):
//   encode        {height, width, mask}            -> {counts, area, bbox}
//   encode_patch  {height, width, top, left, patch_height, patch_width, patch}
//                                                  -> {counts}
//   decode        {height, width, counts}          -> {mask}
//   string_info   {height, width, counts}          -> {counts (re-encoded), area, bbox}
//   polygons      {height, width, polygons}        -> {counts: one per polygon, merged}
//   bbox          {height, width, box}             -> {counts}
//   merge         {height, width, rles}            -> {counts}
//   rle_iou       {height, width, dt, gt, iscrowd} -> {iou: [D][G]}
//   box_iou       {dt, gt, iscrowd}                -> {iou: [D][G]}
// An evaluation is a COCO ground-truth dict (images, categories, annotations
// with bbox, area, iscrowd and, for segm, polygons or an RLE dict) plus
// "detections" (image_id, category_id, score, bbox or an RLE dict) and
// "iou_type" ("bbox" or "segm"); its result holds stats, precision, recall
// (flattened row-major), category_ids and category_ap.
#include <cstdint>
#include <exception>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "detector/eval/coco_eval.h"
#include "detector/eval/rle.h"

namespace {

using nlohmann::json;
using roiserve::eval::Box;
using roiserve::eval::Rle;

std::vector<uint8_t> read_mask(const json& values) { return values.get<std::vector<uint8_t>>(); }

Rle read_compressed(const json& counts, int64_t height, int64_t width) {
  return roiserve::eval::from_compressed_string(counts.get<std::string>(), height, width);
}

std::vector<Rle> read_compressed_list(const json& list, int64_t height, int64_t width) {
  std::vector<Rle> rles;
  for (const json& counts : list) rles.push_back(read_compressed(counts, height, width));
  return rles;
}

json describe(const Rle& rle) {
  const Box box = roiserve::eval::to_bbox(rle);
  return {{"counts", roiserve::eval::to_compressed_string(rle)},
          {"area", roiserve::eval::area(rle)},
          {"bbox", box}};
}

template <typename Region>
json iou_matrix(const std::vector<Region>& detections, const std::vector<Region>& truths,
                const std::vector<bool>& is_crowd) {
  json rows = json::array();
  for (const Region& detection : detections) {
    std::vector<double> row;
    for (size_t g = 0; g < truths.size(); ++g) {
      row.push_back(roiserve::eval::iou(detection, truths[g], is_crowd.at(g)));
    }
    rows.push_back(row);
  }
  return rows;
}

json run_rle_op(const json& op) {
  const std::string name = op.at("op").get<std::string>();
  if (name == "box_iou") {
    return {{"iou", iou_matrix(op.at("dt").get<std::vector<Box>>(),
                               op.at("gt").get<std::vector<Box>>(),
                               op.at("iscrowd").get<std::vector<bool>>())}};
  }
  const int64_t height = op.at("height").get<int64_t>();
  const int64_t width = op.at("width").get<int64_t>();
  if (name == "encode") {
    const std::vector<uint8_t> mask = read_mask(op.at("mask"));
    return describe(roiserve::eval::encode(mask.data(), height, width));
  }
  if (name == "encode_patch") {
    const std::vector<uint8_t> patch = read_mask(op.at("patch"));
    const Rle rle = roiserve::eval::encode_patch(
        patch.data(), op.at("patch_height").get<int64_t>(), op.at("patch_width").get<int64_t>(),
        op.at("top").get<int64_t>(), op.at("left").get<int64_t>(), height, width);
    return {{"counts", roiserve::eval::to_compressed_string(rle)}};
  }
  if (name == "decode") {
    return {{"mask", roiserve::eval::decode(read_compressed(op.at("counts"), height, width))}};
  }
  if (name == "string_info") return describe(read_compressed(op.at("counts"), height, width));
  if (name == "polygons") {
    std::vector<Rle> parts;
    json counts = json::array();
    for (const json& polygon : op.at("polygons")) {
      parts.push_back(
          roiserve::eval::from_polygon(polygon.get<std::vector<double>>(), height, width));
      counts.push_back(roiserve::eval::to_compressed_string(parts.back()));
    }
    return {{"counts", counts},
            {"merged", roiserve::eval::to_compressed_string(roiserve::eval::merge(parts))}};
  }
  if (name == "bbox") {
    const Rle rle = roiserve::eval::from_bbox(op.at("box").get<Box>(), height, width);
    return {{"counts", roiserve::eval::to_compressed_string(rle)}};
  }
  if (name == "merge") {
    const Rle merged = roiserve::eval::merge(read_compressed_list(op.at("rles"), height, width));
    return {{"counts", roiserve::eval::to_compressed_string(merged)}};
  }
  if (name == "rle_iou") {
    return {{"iou", iou_matrix(read_compressed_list(op.at("dt"), height, width),
                               read_compressed_list(op.at("gt"), height, width),
                               op.at("iscrowd").get<std::vector<bool>>())}};
  }
  throw std::invalid_argument("unknown RLE op \"" + name + "\"");
}

// An RLE dict {"size": [h, w], "counts": string or list}.
Rle read_rle_dict(const json& dict) {
  const int64_t height = dict.at("size").at(0).get<int64_t>();
  const int64_t width = dict.at("size").at(1).get<int64_t>();
  const json& counts = dict.at("counts");
  if (counts.is_string()) return read_compressed(counts, height, width);
  return Rle{height, width, counts.get<std::vector<uint32_t>>()};
}

// pycocotools' annToRLE: polygons are rasterized one by one and merged.
Rle read_segmentation(const json& segmentation, int64_t height, int64_t width) {
  if (!segmentation.is_array()) return read_rle_dict(segmentation);
  std::vector<Rle> parts;
  for (const json& polygon : segmentation) {
    parts.push_back(
        roiserve::eval::from_polygon(polygon.get<std::vector<double>>(), height, width));
  }
  return roiserve::eval::merge(parts);
}

json run_evaluation(const json& evaluation) {
  const std::string iou_type_name = evaluation.at("iou_type").get<std::string>();
  if (iou_type_name != "bbox" && iou_type_name != "segm") {
    throw std::invalid_argument("unknown iou_type \"" + iou_type_name + "\"");
  }
  const bool segm = iou_type_name == "segm";

  std::vector<roiserve::eval::ImageInfo> images;
  std::map<int64_t, std::pair<int64_t, int64_t>> image_sizes;
  for (const json& image : evaluation.at("images")) {
    images.push_back({image.at("id").get<int64_t>(), image.at("height").get<int64_t>(),
                      image.at("width").get<int64_t>()});
    image_sizes[images.back().id] = {images.back().height, images.back().width};
  }
  std::vector<int64_t> category_ids;
  for (const json& category : evaluation.at("categories")) {
    category_ids.push_back(category.at("id").get<int64_t>());
  }
  std::vector<roiserve::eval::GroundTruth> truths;
  for (const json& annotation : evaluation.at("annotations")) {
    roiserve::eval::GroundTruth truth;
    truth.id = annotation.at("id").get<int64_t>();
    truth.image_id = annotation.at("image_id").get<int64_t>();
    truth.category_id = annotation.at("category_id").get<int64_t>();
    truth.bbox = annotation.at("bbox").get<Box>();
    truth.area = annotation.at("area").get<double>();
    truth.is_crowd = annotation.value("iscrowd", 0) != 0;
    if (segm) {
      const auto [height, width] = image_sizes.at(truth.image_id);
      truth.segmentation = read_segmentation(annotation.at("segmentation"), height, width);
    }
    truths.push_back(std::move(truth));
  }
  std::vector<roiserve::eval::Detection> detections;
  for (const json& result : evaluation.at("detections")) {
    roiserve::eval::Detection detection;
    detection.image_id = result.at("image_id").get<int64_t>();
    detection.category_id = result.at("category_id").get<int64_t>();
    detection.score = result.at("score").get<double>();
    if (segm) {
      detection.segmentation = read_rle_dict(result.at("segmentation"));
    } else {
      detection.bbox = result.at("bbox").get<Box>();
    }
    detections.push_back(std::move(detection));
  }

  const roiserve::eval::CocoEvalResult result = roiserve::eval::evaluate_coco(
      images, category_ids, truths, detections,
      segm ? roiserve::eval::IouType::kSegm : roiserve::eval::IouType::kBbox);
  return {{"stats", result.stats},
          {"precision", result.precision},
          {"recall", result.recall},
          {"category_ids", result.category_ids},
          {"category_ap", result.category_ap}};
}

}  // namespace

int main() {
  try {
    const json request = json::parse(std::cin);
    json response = {{"rle_ops", json::array()}, {"evaluations", json::array()}};
    for (const json& op : request.value("rle_ops", json::array())) {
      response["rle_ops"].push_back(run_rle_op(op));
    }
    for (const json& evaluation : request.value("evaluations", json::array())) {
      response["evaluations"].push_back(run_evaluation(evaluation));
    }
    std::cout << response.dump() << '\n';
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "roiserve_coco_eval_cli: " << error.what() << '\n';
    return 1;
  }
}
