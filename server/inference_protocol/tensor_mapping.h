#pragma once
// The detector's tensors in the Open Inference Protocol, and the one
// translation between the protocol's ModelInferRequest/Response and
// roiserve.v1's DetectRequest/Response. gRPC's ModelInfer uses it directly,
// REST's /v2/models/{name}/infer after its JSON is read into the same
// messages (json_conversion.h), so the two cannot differ.
//
// Inputs (exactly one):
//   IMAGE  BYTES [N] (or [N, 1])       one encoded image per element
//   RAW    UINT8 [H, W, 3] or [N, H, W, 3]   RGB pixels, row-major
// Outputs, the detections of all N images one after another (image 0's
// first), each image's in roiserve.v1's order (score descending):
//   BOXES        FP32  [K, 4]  x1, y1, x2, y2 in input-image pixels
//   SCORES       FP32  [K]
//   LABELS       INT64 [K]     class id, 1 .. number of classes
//   CLASS_NAMES  BYTES [K]
//   MASKS        BYTES [K]     COCO RLE counts of the whole image (PNG bytes
//                               with mask_format "png"); only when masks ran
//   IMAGE_INDEX  INT64 [K]     which of the request's images it was found in
// Request parameters (all optional; the model's defaults otherwise): head,
// mask_pooler, mask_format ("coco_rle", "png", "none") as strings;
// score_threshold, nms_iou as numbers; max_detections as an integer.
// Response parameters: each stage's latency in milliseconds under its
// roiserve.v1 name ("queue_wait" .. "total"; with several images,
// "<stage>/<image index>"), the size of the batch each image ran in
// ("batch_size", "batch_size/<image index>"), and the head and mask_pooler
// that ran.
//
// Every failure is std::invalid_argument with a message for the caller.
#include <cstdint>
#include <string>
#include <vector>

#include "inference/grpc_service.pb.h"
#include "roiserve/v1/detection.pb.h"

namespace roiserve::server::inference_protocol {

struct TensorSpec {
  const char* name;
  const char* datatype;
  std::vector<int64_t> shape;  // -1: any size
};

// The inputs and outputs above, as ModelMetadata and ModelConfig describe them.
const std::vector<TensorSpec>& input_tensors();
const std::vector<TensorSpec>& output_tensors();

// A ModelInferRequest in roiserve.v1's terms: one DetectRequest per image,
// all with the same options, and the outputs to send (all when empty).
struct DetectionPlan {
  std::vector<v1::DetectRequest> images;
  std::vector<std::string> outputs;
};

DetectionPlan plan_detections(const inference::ModelInferRequest& request);

// The answer to `request` from the answers to its plan's images, in order.
// Outputs go to raw_output_contents, as Triton sends them.
void fill_infer_response(const inference::ModelInferRequest& request, const DetectionPlan& plan,
                         const std::vector<v1::DetectResponse>& answers,
                         inference::ModelInferResponse* response);

}  // namespace roiserve::server::inference_protocol
