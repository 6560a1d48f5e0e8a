#pragma once
// Outcomes of the detector into the API's messages: detections with their
// masks encoded as asked, stage latencies in the order they ran, agreement
// between Compare's variants.
#include <google/protobuf/repeated_field.h>

#include "detector/config/model_config.h"
#include "detector/model/stage_timings.h"
#include "roiserve/v1/detection.pb.h"
#include "server/inference_job.h"
#include "server/request_options.h"

namespace roiserve::server {

void add_detections(const detector::ImageDetections& detections, const detector::ModelConfig& model,
                    MaskFormat mask_format,
                    google::protobuf::RepeatedPtrField<v1::Detection>* output);

void add_latencies(const detector::StageTimings& timings,
                   google::protobuf::RepeatedPtrField<v1::StageLatency>* output);

// Fills everything but request_id, model and the "encode"/"total" stages.
void fill_detect_response(const JobOutcome& outcome, const detector::HeadRequest& variant,
                          const detector::ModelConfig& model, MaskFormat mask_format,
                          v1::DetectResponse* response);

// Fills everything but request_id, model and the shared "total" stage; each
// variant's latencies end with its own "encode".
void fill_compare_response(const JobOutcome& outcome, const ResolvedOptions& options,
                           const AgreementOptions& agreement, const detector::ModelConfig& model,
                           v1::CompareResponse* response);

}  // namespace roiserve::server
