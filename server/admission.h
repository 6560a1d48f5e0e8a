#pragma once
// Admission of an inference request, whatever protocol carried it (gRPC
// Detect and Compare, DetectStream's messages, HTTP /v1/detect and
// /v1/compare, the Open Inference Protocol's ModelInfer): the drain gate,
// authorization, the model, its options, the image checks that need no
// decoding (pixel limit), the job with its deadline, and the model's batch
// queue. Callers keep their own framing; the answer comes as a status and a
// filled response message, through a callback on the model's worker.
#include <google/protobuf/message.h>
#include <grpcpp/support/status.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "roiserve/v1/detection.pb.h"
#include "server/auth.h"
#include "server/call_context.h"
#include "server/drain_gate.h"
#include "server/inference_job.h"
#include "server/metrics.h"
#include "server/model_repository.h"

namespace roiserve::server {

using Deadline = std::optional<Clock::time_point>;
// Called exactly once with the request's final status, after the response
// is filled (OK) or cleared (not OK).
using DoneCallback = std::function<void(const grpc::Status&)>;

// What a request asks of its model: the variants to run, and how to answer
// from their outcome (on the worker; a throw becomes INTERNAL).
struct PreparedJob {
  std::vector<detector::HeadRequest> variants;
  std::function<void(const JobOutcome&)> answer;
};
// Checks the request's options against the model (throwing
// std::invalid_argument for bad ones) and prepares its job.
using JobPreparer = std::function<PreparedJob(const ServedModel&)>;

class Admission {
 public:
  Admission(ModelRepository& models, const TokenAuthenticator& auth, const LimitsConfig& limits,
            ServerMetrics& metrics, DrainGate& drain);

  // UNAVAILABLE while draining, else the user-role authorization of the
  // call's metadata (gRPC) or of an authorization header's value (nullptr:
  // none; `carrier` names it in messages).
  grpc::Status admit(const grpc::ServerContextBase& context) const;
  grpc::Status admit(const std::string* authorization, const char* carrier) const;

  // The steps after admit(). OK: the job is queued (`job` set, so that the
  // caller can cancel it), and `done` follows exactly once, on a worker
  // thread; the request and `response` must live until then. Not OK:
  // nothing runs and `done` is not called. Nothing throws: an exception on
  // the way becomes a status (see exception_status.h).
  grpc::Status start_detect(const v1::DetectRequest& request, Deadline deadline,
                            v1::DetectResponse* response, CallRecord& record, DoneCallback done,
                            std::shared_ptr<InferenceJob>& job);
  grpc::Status start_compare(const v1::CompareRequest& request, Deadline deadline,
                             v1::CompareResponse* response, CallRecord& record, DoneCallback done,
                             std::shared_ptr<InferenceJob>& job);
  // The shared core, for protocols with responses of their own: the model
  // (empty name: the default), `prepare`, the image checks, the job, the
  // queue. `response` is cleared when answering fails.
  grpc::Status start_job(const std::string& model_name, const v1::Image& image, Deadline deadline,
                         google::protobuf::Message* response, CallRecord& record,
                         const JobPreparer& prepare, const DoneCallback& done,
                         std::shared_ptr<InferenceJob>& job);

  ModelRepository& models() { return models_; }
  const TokenAuthenticator& auth() const { return auth_; }
  const LimitsConfig& limits() const { return limits_; }
  ServerMetrics& metrics() { return metrics_; }
  DrainGate& drain() { return drain_; }

 private:
  grpc::Status queue_job(const std::string& model_name, const v1::Image& image, Deadline deadline,
                         google::protobuf::Message* response, CallRecord& record,
                         const JobPreparer& prepare, const DoneCallback& done,
                         std::shared_ptr<InferenceJob>& job);

  ModelRepository& models_;
  const TokenAuthenticator& auth_;
  const LimitsConfig& limits_;
  ServerMetrics& metrics_;
  DrainGate& drain_;
};

}  // namespace roiserve::server
