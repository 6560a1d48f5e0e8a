#pragma once
// roiserve's own JSON routes on the HTTP frontend, for what the Open
// Inference Protocol cannot say well (docs/API.md describes them):
//   POST /v1/detect   an image (raw body, multipart "image" part, or the JSON
//                     of a DetectRequest) -> the detections JSON of roiserve-detect
//   POST /v1/compare  the same for Compare -> per variant detections, timings,
//                     proposals' fingerprints, pairwise agreement
//   GET  /v1/models   every model: ListModels' summary and GetModelInfo
// Requests go through the same admission as gRPC's Detect and Compare.
#include <map>
#include <string>

#include "roiserve/v1/detection.pb.h"
#include "server/admission.h"
#include "server/http_frontend.h"

namespace roiserve::server {

void add_v1_routes(HttpFrontend& http, Admission& admission);

// The request a /v1 call describes, without its image: the JSON of a
// DetectRequest or CompareRequest (proto3 JSON mapping; "" for none), then
// the query parameters over it: model, head, mask_pooler, score_threshold,
// nms_iou, max_detections, mask_format (none, coco_rle, png), request_id;
// Compare also variants (HEAD[/POOLER],HEAD[/POOLER],...), match_iou and
// agreement_min_score. Throws std::invalid_argument naming what is wrong.
v1::DetectRequest detect_request_of(const std::string& json,
                                    const std::multimap<std::string, std::string>& query);
v1::CompareRequest compare_request_of(const std::string& json,
                                      const std::multimap<std::string, std::string>& query);

}  // namespace roiserve::server
