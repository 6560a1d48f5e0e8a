#pragma once
// The Open Inference Protocol's REST body to and from the gRPC messages, so
// that /v2/models/{name}/infer runs the same translation as ModelInfer
// (tensor_mapping.h). JSON as KServe v2 and Triton write it, with Triton's
// binary tensor data extension: when the "Inference-Header-Content-Length"
// header is set, the body is that many bytes of JSON followed by the tensors
// of inputs whose "binary_data_size" parameter says so, in input order.
// BYTES elements are JSON strings, or {"b64": "..."} for bytes that are
// not text (an image in a curl command). Failures are std::invalid_argument.
#include <optional>
#include <string>
#include <vector>

#include "inference/grpc_service.pb.h"

namespace roiserve::server::inference_protocol {

struct RestInferRequest {
  inference::ModelInferRequest request;
  // Per output name, whether to send it as binary data; "" for those not listed.
  std::vector<std::pair<std::string, bool>> binary_outputs;
  bool binary_by_default = false;  // the request's binary_data_output parameter
};

// `json_length`: the Inference-Header-Content-Length header, if any.
RestInferRequest read_infer_request(const std::string& body, std::optional<size_t> json_length);

struct RestBody {
  std::string body;
  std::optional<size_t> json_length;  // set when binary data follows the JSON
};

RestBody write_infer_response(const inference::ModelInferResponse& response,
                              const RestInferRequest& request);

// A message as JSON with the proto's field names (Triton's model
// configuration, statistics and metadata on its HTTP side).
std::string message_json(const google::protobuf::Message& message);

}  // namespace roiserve::server::inference_protocol
