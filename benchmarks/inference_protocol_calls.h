#pragma once
// The load generator's calls of the Open Inference Protocol, for comparing
// its overhead with roiserve.v1 Detect's: gRPC ModelInfer, and REST
// /v2/models/{name}/infer with Triton's binary data extension, each with one
// encoded image as IMAGE (BYTES [1]) and the options as parameters.
#include <grpcpp/channel.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace roiserve::benchmarks {

using StageLatencies = std::vector<std::pair<std::string, double>>;
// Sends request `index` (modulo the images); fills the server's stage
// latencies and batch size; false when the call failed.
using Call = std::function<bool(size_t index, StageLatencies& stages, uint32_t& batch_size)>;

struct InferOptions {
  std::string model;  // empty: the server's default (gRPC only)
  std::string head;   // empty: the model's default
  bool masks = true;
};

// A call over `channel`; one per client thread.
Call model_infer_call(const std::shared_ptr<grpc::Channel>& channel,
                      const std::vector<std::string>& images, const InferOptions& options);
// A call over an HTTP connection of its own to `target` (HOST:PORT).
Call rest_infer_call(const std::string& target, const std::vector<std::string>& images,
                     const InferOptions& options);

}  // namespace roiserve::benchmarks
