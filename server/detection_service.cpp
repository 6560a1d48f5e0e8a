#include "server/detection_service.h"

#include "server/detect_stream.h"
#include "server/exception_status.h"
#include "server/model_info.h"

namespace roiserve::server {
DetectionService::DetectionService(Admission& admission) : admission_(admission) {}

template <typename Request, typename Response, typename Start>
grpc::ServerUnaryReactor* DetectionService::unary_inference(const char* method,
                                                            grpc::CallbackServerContext* context,
                                                            const Request* request,
                                                            Response* response, Start start) {
  auto* call =
      new UnaryCall<InferenceJob>(admission_.metrics(), admission_.drain(), method, *context);
  call->record.set_request_id(request->request_id());
  grpc::Status status = admission_.admit(*context);
  if (status.ok()) {
    status = (admission_.*start)(*request, call_deadline(*context), response, call->record,
                                 [call](const grpc::Status& done) { call->complete(done); },
                                 call->work);
  }
  if (!status.ok()) call->complete(status);
  return call;
}

template <typename Answer>
grpc::ServerUnaryReactor* DetectionService::unary_answer(const char* method,
                                                         grpc::CallbackServerContext* context,
                                                         Answer answer) {
  auto* call =
      new UnaryCall<InferenceJob>(admission_.metrics(), admission_.drain(), method, *context);
  grpc::Status status = admission_.admit(*context);
  if (status.ok()) status = guarded("while answering", [&] { return answer(call->record); });
  call->complete(status);
  return call;
}

grpc::ServerUnaryReactor* DetectionService::Detect(grpc::CallbackServerContext* context,
                                                   const v1::DetectRequest* request,
                                                   v1::DetectResponse* response) {
  return unary_inference("Detect", context, request, response, &Admission::start_detect);
}

grpc::ServerUnaryReactor* DetectionService::Compare(grpc::CallbackServerContext* context,
                                                    const v1::CompareRequest* request,
                                                    v1::CompareResponse* response) {
  return unary_inference("Compare", context, request, response, &Admission::start_compare);
}

grpc::ServerBidiReactor<v1::DetectRequest, v1::DetectStreamResponse>*
DetectionService::DetectStream(grpc::CallbackServerContext* context) {
  return new DetectStreamCall(admission_, *context);
}

grpc::ServerUnaryReactor* DetectionService::ListModels(grpc::CallbackServerContext* context,
                                                       const v1::ListModelsRequest*,
                                                       v1::ListModelsResponse* response) {
  return unary_answer("ListModels", context, [&](CallRecord&) {
    return fill_model_list(admission_.models(), response);
  });
}

grpc::ServerUnaryReactor* DetectionService::GetModelInfo(grpc::CallbackServerContext* context,
                                                         const v1::GetModelInfoRequest* request,
                                                         v1::ModelInfo* response) {
  return unary_answer("GetModelInfo", context, [&](CallRecord& record) {
    std::shared_ptr<ServedModel> model;
    const grpc::Status status = admission_.models().find(request->name(), model);
    if (!status.ok()) return status;
    record.set_model(model->name());
    fill_model_info(*model, admission_.limits(), response);
    return status;
  });
}

}  // namespace roiserve::server
