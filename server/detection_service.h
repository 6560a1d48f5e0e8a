#pragma once
// roiserve.v1.DetectionService on gRPC's callback API: handlers check the
// call (auth, model, options, image header) and queue a job on the model's
// batch scheduler; the model's worker answers it. No thread waits on a call.
#include <functional>
#include <memory>

#include "roiserve/v1/detection.grpc.pb.h"
#include "server/auth.h"
#include "server/call_context.h"
#include "server/drain_gate.h"
#include "server/metrics.h"
#include "server/model_repository.h"

namespace roiserve::server {

class DetectionService final : public v1::DetectionService::CallbackService {
 public:
  DetectionService(ModelRepository& models, const TokenAuthenticator& auth,
                   const LimitsConfig& limits, ServerMetrics& metrics, DrainGate& drain);

  grpc::ServerUnaryReactor* Detect(grpc::CallbackServerContext* context,
                                   const v1::DetectRequest* request,
                                   v1::DetectResponse* response) override;
  grpc::ServerBidiReactor<v1::DetectRequest, v1::DetectStreamResponse>* DetectStream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Compare(grpc::CallbackServerContext* context,
                                    const v1::CompareRequest* request,
                                    v1::CompareResponse* response) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const v1::ListModelsRequest* request,
                                       v1::ListModelsResponse* response) override;
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* context,
                                         const v1::GetModelInfoRequest* request,
                                         v1::ModelInfo* response) override;

  // The work of one Detect request (a Detect call, or one message of a
  // stream), after authorization. OK: the job is queued (`job` set), and
  // `done` is called exactly once, on a worker thread, after `response` is
  // filled; the request must live until then. Otherwise nothing runs.
  grpc::Status start_detect(const grpc::ServerContextBase& context, const v1::DetectRequest& request,
                            v1::DetectResponse* response, CallRecord& record,
                            std::function<void(const grpc::Status&)> done,
                            std::shared_ptr<InferenceJob>& job);

  // UNAVAILABLE while draining, else the user-role authorization.
  grpc::Status admit(const grpc::ServerContextBase& context) const;
  const TokenAuthenticator& auth() const { return auth_; }
  DrainGate& drain() { return drain_; }
  ServerMetrics& metrics() { return metrics_; }
  const LimitsConfig& limits() const { return limits_; }

 private:
  // What a request asks of its model: the variants to run, and how to
  // answer from their outcome (on the worker).
  struct PreparedJob {
    std::vector<detector::HeadRequest> variants;
    std::function<void(const JobOutcome&)> answer;
  };

  // The steps every inference request shares: model, `prepare` (which
  // throws std::invalid_argument for bad options), image checks, the job,
  // the queue. On OK, `done` follows `answer` exactly once.
  grpc::Status start_job(const grpc::ServerContextBase& context, const std::string& model_name,
                         const v1::Image& image, google::protobuf::Message* response,
                         CallRecord& record,
                         const std::function<PreparedJob(const ServedModel&)>& prepare,
                         const std::function<void(const grpc::Status&)>& done,
                         std::shared_ptr<InferenceJob>& job);
  grpc::Status start_compare(const grpc::ServerContextBase& context,
                             const v1::CompareRequest& request, v1::CompareResponse* response,
                             CallRecord& record, std::function<void(const grpc::Status&)> done,
                             std::shared_ptr<InferenceJob>& job);
  // A unary call that runs a job: Detect, Compare.
  template <typename Request, typename Response, typename Start>
  grpc::ServerUnaryReactor* unary_inference(const char* method, grpc::CallbackServerContext* context,
                                            const Request* request, Response* response,
                                            Start start);

  ModelRepository& models_;
  const TokenAuthenticator& auth_;
  const LimitsConfig& limits_;
  ServerMetrics& metrics_;
  DrainGate& drain_;
};

}  // namespace roiserve::server
