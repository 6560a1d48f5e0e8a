#include "tools/client/response_records.h"

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

}  // namespace roiserve::tools
