#pragma once
// The service's responses as the detections JSON of roiserve-detect
// (tools/detection_records/detections_json.h), so that clients write one contract.
#include "roiserve/v1/detection.pb.h"
#include "tools/detection_records/detections_json.h"

namespace roiserve::tools {

// Throws std::invalid_argument when a mask is not a COCO RLE of the image.
ImageRecord record_from_response(std::string file, const v1::DetectResponse& response);

std::vector<DetectionRecord> records_from_detections(
    const google::protobuf::RepeatedPtrField<v1::Detection>& detections, int64_t height,
    int64_t width);

std::map<std::string, double> timings_from_latencies(
    const google::protobuf::RepeatedPtrField<v1::StageLatency>& latencies);

}  // namespace roiserve::tools
