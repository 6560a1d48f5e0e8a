#pragma once
// roiserve.v1.DetectionService on gRPC's callback API: handlers hand the
// call to the admission (auth, model, options, image header, the model's
// batch queue); the model's worker answers it. No thread waits on a call.
#include "roiserve/v1/detection.grpc.pb.h"
#include "server/admission.h"

namespace roiserve::server {

class DetectionService final : public v1::DetectionService::CallbackService {
 public:
  explicit DetectionService(Admission& admission);

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

  Admission& admission() { return admission_; }

 private:
  // A unary call that runs a job: Detect, Compare.
  template <typename Request, typename Response, typename Start>
  grpc::ServerUnaryReactor* unary_inference(const char* method, grpc::CallbackServerContext* context,
                                            const Request* request, Response* response,
                                            Start start);
  // A unary call answered on the spot: ListModels, GetModelInfo.
  template <typename Answer>
  grpc::ServerUnaryReactor* unary_answer(const char* method, grpc::CallbackServerContext* context,
                                         Answer answer);

  Admission& admission_;
};

}  // namespace roiserve::server
