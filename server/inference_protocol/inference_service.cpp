#include "server/inference_protocol/inference_service.h"

#include "server/exception_status.h"
#include "server/inference_protocol/model_description.h"
#include "server/inference_protocol/model_infer.h"

namespace roiserve::server::inference_protocol {
InferenceService::InferenceService(Admission& admission, RepositoryModels& repository,
                                   std::function<bool()> ready)
    : admission_(admission), repository_(repository), ready_(std::move(ready)) {}

grpc::ServerUnaryReactor* InferenceService::answer(const char* method,
                                                   grpc::CallbackServerContext* context,
                                                   std::optional<Role> role,
                                                   const std::function<grpc::Status()>& work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  grpc::Status status = grpc::Status::OK;
  if (role) {
    status = admission_.drain().admit();
    if (status.ok()) status = admission_.auth().authorize(*context, *role);
  }
  if (status.ok()) status = guarded(method, work);
  if (role) CallRecord(admission_.metrics(), method, context->peer()).finish(status);
  reactor->Finish(status);
  return reactor;
}

grpc::ServerUnaryReactor* InferenceService::administer(const char* method,
                                                       grpc::CallbackServerContext* context,
                                                       const std::function<void(AdminDone)>& start) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto record = std::make_shared<CallRecord>(admission_.metrics(), method, context->peer());
  grpc::Status status = admission_.drain().admit();
  if (status.ok()) status = admission_.auth().authorize(*context, Role::kAdmin);
  if (status.ok()) {
    status = guarded(method, [&] {
      start([reactor, record](const grpc::Status& done) {
        record->finish(done);
        reactor->Finish(done);
      });
      return grpc::Status::OK;
    });
    if (status.ok()) return reactor;
  }
  record->finish(status);
  reactor->Finish(status);
  return reactor;
}

grpc::ServerUnaryReactor* InferenceService::ServerLive(grpc::CallbackServerContext* context,
                                                       const inference::ServerLiveRequest*,
                                                       inference::ServerLiveResponse* response) {
  return answer("ServerLive", context, std::nullopt, [response] {
    response->set_live(true);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* InferenceService::ServerReady(grpc::CallbackServerContext* context,
                                                        const inference::ServerReadyRequest*,
                                                        inference::ServerReadyResponse* response) {
  return answer("ServerReady", context, std::nullopt, [this, response] {
    response->set_ready(ready_() && admission_.drain().admit().ok());
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* InferenceService::ModelReady(grpc::CallbackServerContext* context,
                                                       const inference::ModelReadyRequest* request,
                                                       inference::ModelReadyResponse* response) {
  return answer("ModelReady", context, Role::kUser, [this, request, response] {
    response->set_ready(model_ready(admission_.models(), request->name(), request->version()) &&
                        ready_());
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* InferenceService::ServerMetadata(grpc::CallbackServerContext* context,
                                                           const inference::ServerMetadataRequest*,
                                                           inference::ServerMetadataResponse* response) {
  return answer("ServerMetadata", context, Role::kUser, [response] {
    fill_server_metadata(response);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* InferenceService::ModelMetadata(grpc::CallbackServerContext* context,
                                                          const inference::ModelMetadataRequest* request,
                                                          inference::ModelMetadataResponse* response) {
  return answer("ModelMetadata", context, Role::kUser, [this, request, response] {
    std::shared_ptr<ServedModel> model;
    const grpc::Status status =
        find_model(admission_.models(), request->name(), request->version(), model);
    if (status.ok()) fill_model_metadata(*model, response);
    return status;
  });
}

grpc::ServerUnaryReactor* InferenceService::ModelConfig(grpc::CallbackServerContext* context,
                                                        const inference::ModelConfigRequest* request,
                                                        inference::ModelConfigResponse* response) {
  return answer("ModelConfig", context, Role::kUser, [this, request, response] {
    std::shared_ptr<ServedModel> model;
    const grpc::Status status =
        find_model(admission_.models(), request->name(), request->version(), model);
    if (status.ok()) fill_model_config(*model, response->mutable_config());
    return status;
  });
}

grpc::ServerUnaryReactor* InferenceService::ModelStatistics(
    grpc::CallbackServerContext* context, const inference::ModelStatisticsRequest* request,
    inference::ModelStatisticsResponse* response) {
  return answer("ModelStatistics", context, Role::kUser, [this, request, response] {
    return fill_model_statistics(admission_.models(), request->name(), request->version(), response);
  });
}

grpc::ServerUnaryReactor* InferenceService::ModelInfer(grpc::CallbackServerContext* context,
                                                       const inference::ModelInferRequest* request,
                                                       inference::ModelInferResponse* response) {
  auto* call = new UnaryCall<ModelInferRun>(admission_.metrics(), admission_.drain(), "ModelInfer",
                                            *context);
  grpc::Status status = admission_.admit(*context);
  if (status.ok()) status = check_version(request->model_name(), request->model_version());
  if (status.ok()) {
    status = ModelInferRun::start(admission_, *request, call_deadline(*context), response,
                                  call->record,
                                  [call](const grpc::Status& done) { call->complete(done); },
                                  call->work);
  }
  if (!status.ok()) call->complete(status);
  return call;
}

grpc::ServerUnaryReactor* InferenceService::RepositoryIndex(
    grpc::CallbackServerContext* context, const inference::RepositoryIndexRequest* request,
    inference::RepositoryIndexResponse* response) {
  return answer("RepositoryIndex", context, Role::kUser, [this, request, response] {
    repository_.index(request->ready(), response);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* InferenceService::RepositoryModelLoad(
    grpc::CallbackServerContext* context, const inference::RepositoryModelLoadRequest* request,
    inference::RepositoryModelLoadResponse*) {
  return administer("RepositoryModelLoad", context, [this, request](AdminDone done) {
    repository_.load(request->model_name(), load_path_parameter(request->parameters()),
                     std::move(done));
  });
}

grpc::ServerUnaryReactor* InferenceService::RepositoryModelUnload(
    grpc::CallbackServerContext* context, const inference::RepositoryModelUnloadRequest* request,
    inference::RepositoryModelUnloadResponse*) {
  return administer("RepositoryModelUnload", context, [this, request](AdminDone done) {
    repository_.unload(request->model_name(), std::move(done));
  });
}

}  // namespace roiserve::server::inference_protocol
