#pragma once
// The detector's results as the records of the detections JSON
// (tools/detection_records/detections_json.h).
#include <string>

#include "detector/config/model_config.h"
#include "detector/model/detector.h"
#include "detector/model/stage_timings.h"
#include "tools/detection_records/detections_json.h"

namespace roiserve::tools {

// The record of one image's detections. Masks are binarized as the model
// config says (probability > roi_heads.mask.threshold) and encoded without
// building the full-size mask.
ImageRecord make_image_record(std::string file, const detector::ImageDetections& detections,
                              const detector::StageTimings& timings,
                              const detector::ModelConfig& model);

}  // namespace roiserve::tools
