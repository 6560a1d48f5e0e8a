#pragma once
// inference.GRPCInferenceService (proto/inference/grpc_service.proto), the
// Open Inference Protocol over gRPC, on gRPC's callback API next to
// roiserve.v1. ModelInfer goes through the server's admission like Detect
// (callback threads only admit; the model's worker answers); the other
// calls answer at once, but for the repository's load and unload, which
// run on the admin service's threads. ServerLive and ServerReady need no
// token (probes); load and unload need an admin token; the rest a user token.
#include <functional>

#include "inference/grpc_service.grpc.pb.h"
#include "server/admission.h"
#include "server/inference_protocol/repository_models.h"

namespace roiserve::server::inference_protocol {

class InferenceService final : public inference::GRPCInferenceService::CallbackService {
 public:
  // `ready`: whether the server serves (all models loaded, none lost, not draining).
  InferenceService(Admission& admission, RepositoryModels& repository, std::function<bool()> ready);

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* context,
                                       const inference::ServerLiveRequest* request,
                                       inference::ServerLiveResponse* response) override;
  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* context,
                                        const inference::ServerReadyRequest* request,
                                        inference::ServerReadyResponse* response) override;
  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* context,
                                       const inference::ModelReadyRequest* request,
                                       inference::ModelReadyResponse* response) override;
  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* context,
                                           const inference::ServerMetadataRequest* request,
                                           inference::ServerMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* context,
                                          const inference::ModelMetadataRequest* request,
                                          inference::ModelMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* context,
                                       const inference::ModelInferRequest* request,
                                       inference::ModelInferResponse* response) override;
  grpc::ServerUnaryReactor* ModelConfig(grpc::CallbackServerContext* context,
                                        const inference::ModelConfigRequest* request,
                                        inference::ModelConfigResponse* response) override;
  grpc::ServerUnaryReactor* ModelStatistics(grpc::CallbackServerContext* context,
                                            const inference::ModelStatisticsRequest* request,
                                            inference::ModelStatisticsResponse* response) override;
  grpc::ServerUnaryReactor* RepositoryIndex(grpc::CallbackServerContext* context,
                                            const inference::RepositoryIndexRequest* request,
                                            inference::RepositoryIndexResponse* response) override;
  grpc::ServerUnaryReactor* RepositoryModelLoad(
      grpc::CallbackServerContext* context, const inference::RepositoryModelLoadRequest* request,
      inference::RepositoryModelLoadResponse* response) override;
  grpc::ServerUnaryReactor* RepositoryModelUnload(
      grpc::CallbackServerContext* context, const inference::RepositoryModelUnloadRequest* request,
      inference::RepositoryModelUnloadResponse* response) override;

 private:
  // A call answered at once: authorization for `role` (none: no token
  // needed), then `work`; counted and logged as `method`.
  grpc::ServerUnaryReactor* answer(const char* method, grpc::CallbackServerContext* context,
                                   std::optional<Role> role, const std::function<grpc::Status()>& work);
  // A repository call: the admin role, then `start`, which answers through its callback.
  grpc::ServerUnaryReactor* administer(const char* method, grpc::CallbackServerContext* context,
                                       const std::function<void(AdminDone)>& start);

  Admission& admission_;
  RepositoryModels& repository_;
  std::function<bool()> ready_;
};

}  // namespace roiserve::server::inference_protocol
