#include "tools/response_records/response_records.h"

#include <stdexcept>

#include "detector/eval/rle.h"

namespace roiserve::tools {

std::vector<DetectionRecord> records_from_detections(
    const google::protobuf::RepeatedPtrField<v1::Detection>& detections, int64_t height,
    int64_t width) {
  std::vector<DetectionRecord> records;
  for (const v1::Detection& detection : detections) {
    DetectionRecord record;
    record.bbox = {shortest_double(detection.box().x1()), shortest_double(detection.box().y1()),
                   shortest_double(detection.box().x2()), shortest_double(detection.box().y2())};
    record.category_id = detection.class_id();
    record.category = detection.class_name();
    record.score = shortest_double(detection.score());
    if (detection.mask().has_coco_rle()) {
      const v1::CocoRle& rle = detection.mask().coco_rle();
      if (rle.height() != height || rle.width() != width) {
        throw std::invalid_argument("a mask of the response is not of the image's size");
      }
      record.segmentation = eval::from_compressed_string(rle.counts(), height, width);
    }
    records.push_back(std::move(record));
  }
  return records;
}

std::map<std::string, double> timings_from_latencies(
    const google::protobuf::RepeatedPtrField<v1::StageLatency>& latencies) {
  std::map<std::string, double> timings;
  for (const v1::StageLatency& latency : latencies) timings[latency.stage()] = latency.milliseconds();
  return timings;
}

ImageRecord record_from_response(std::string file, const v1::DetectResponse& response) {
  ImageRecord record;
  record.file = std::move(file);
  record.width = response.image_width();
  record.height = response.image_height();
  record.timings_ms = timings_from_latencies(response.latency());
  record.detections = records_from_detections(response.detections(), record.height, record.width);
  return record;
}

nlohmann::json compare_record(const std::string& file, const v1::CompareResponse& response) {
  nlohmann::json image{{"file", file},
                       {"width", response.image_width()},
                       {"height", response.image_height()},
                       {"timings_ms", timings_from_latencies(response.shared_latency())},
                       {"batch_size", response.batch_size()},
                       {"variants", nlohmann::json::array()},
                       {"agreements", nlohmann::json::array()}};
  for (const v1::VariantResult& result : response.results()) {
    image["variants"].push_back(
        {{"head", result.variant().head()},
         {"mask_pooler", result.variant().mask_pooler()},
         {"num_proposals", result.num_proposals()},
         {"proposals_fingerprint", result.proposals_fingerprint()},
         {"timings_ms", timings_from_latencies(result.latency())},
         {"detections", records_from_detections(result.detections(), response.image_height(),
                                                 response.image_width())}});
  }
  for (const v1::Agreement& agreement : response.agreements()) {
    image["agreements"].push_back({{"a", agreement.a()},
                                   {"b", agreement.b()},
                                   {"matched", agreement.matched()},
                                   {"mean_iou", agreement.mean_iou()},
                                   {"mean_score_delta", agreement.mean_score_delta()},
                                   {"only_a", agreement.only_a()},
                                   {"only_b", agreement.only_b()}});
  }
  return image;
}

}  // namespace roiserve::tools
