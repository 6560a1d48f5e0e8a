#pragma once
// A ModelInferRequest through the server's one admission path: its plan
// (tensor_mapping.h) has one Detect request per image, each admitted and
// queued as a job of its own (so the images of one request batch with
// each other and with every other request's), and the response is built
// once every image is answered. Used by gRPC's ModelInfer and REST's
// /v2/models/{name}/infer alike.
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "inference/grpc_service.pb.h"
#include "server/admission.h"
#include "server/inference_protocol/tensor_mapping.h"

namespace roiserve::server::inference_protocol {

class ModelInferRun {
 public:
  // After authorization. OK: every image is queued and `done` follows
  // exactly once, on a worker thread, after `response` is filled (or
  // cleared: the status of the first image that failed, named). Not OK:
  // `done` is not called, and images already queued are cancelled.
  // `request` and `response` must live until `done`.
  static grpc::Status start(Admission& admission, const inference::ModelInferRequest& request,
                            Deadline deadline, inference::ModelInferResponse* response,
                            CallRecord& record, DoneCallback done,
                            std::shared_ptr<ModelInferRun>& run);

  // The client went away: the images still queued are dropped unrun.
  void cancel();

 private:
  void image_done(size_t index, const grpc::Status& status);

  const inference::ModelInferRequest* request_ = nullptr;
  inference::ModelInferResponse* response_ = nullptr;
  DoneCallback done_;
  DetectionPlan plan_;
  std::vector<v1::DetectResponse> answers_;
  std::vector<grpc::Status> statuses_;
  std::mutex jobs_mutex_;
  std::vector<std::shared_ptr<InferenceJob>> jobs_;
  std::atomic<size_t> remaining_{0};
  std::atomic<bool> abandoned_{false};
};

// For UnaryCall: the client went away.
inline void cancel_work(ModelInferRun& run) {
  run.cancel();
}

}  // namespace roiserve::server::inference_protocol
