#pragma once
// roiserve.v1.ModelAdminService: load, reload and unload models while the
// server serves (proto/roiserve/v1/admin.proto). Admin calls need an admin
// token when auth is on. Loading takes seconds, which gRPC's callback
// threads must not spend: each call's work runs on a thread of its own.
#include <atomic>
#include <list>
#include <mutex>
#include <thread>

#include "roiserve/v1/admin.grpc.pb.h"
#include "server/auth.h"
#include "server/drain_gate.h"
#include "server/metrics.h"
#include "server/model_repository.h"

namespace roiserve::server {

class AdminService final : public v1::ModelAdminService::CallbackService {
 public:
  AdminService(ModelRepository& models, const TokenAuthenticator& auth, const ServerConfig& config,
               ServerMetrics& metrics, DrainGate& drain);
  ~AdminService() override;  // join()

  grpc::ServerUnaryReactor* LoadModel(grpc::CallbackServerContext* context,
                                      const v1::LoadModelRequest* request,
                                      v1::LoadModelResponse* response) override;
  grpc::ServerUnaryReactor* ReloadModel(grpc::CallbackServerContext* context,
                                        const v1::ReloadModelRequest* request,
                                        v1::LoadModelResponse* response) override;
  grpc::ServerUnaryReactor* UnloadModel(grpc::CallbackServerContext* context,
                                        const v1::UnloadModelRequest* request,
                                        v1::UnloadModelResponse* response) override;

  // Waits for the admin work in flight.
  void join();

  // The work of the calls above, for every protocol that loads and unloads
  // (the Open Inference Protocol's repository calls too). Run them through
  // run_in_background: loading takes seconds.
  grpc::Status load(const v1::LoadModelRequest& request, v1::LoadModelResponse* response);
  grpc::Status reload(const v1::ReloadModelRequest& request, v1::LoadModelResponse* response);
  grpc::Status unload(const std::string& name);
  // Runs `work` on a thread of its own, then `finish` with its status there
  // (an exception becomes INTERNAL). The server waits for it at shutdown.
  void run_in_background(std::function<grpc::Status()> work,
                         std::function<void(const grpc::Status&)> finish);

 private:
  // Authorizes the call, then runs `work` on a worker thread and answers
  // with its status.
  grpc::ServerUnaryReactor* run(const char* method, grpc::CallbackServerContext* context,
                                std::function<grpc::Status()> work);
  // The answer of a load or reload: the model's description and the time.
  void describe(ServedModel& model, double milliseconds, v1::LoadModelResponse* response) const;

  struct Worker {
    std::thread thread;
    std::atomic<bool> finished{false};
  };

  ModelRepository& models_;
  const TokenAuthenticator& auth_;
  const ServerConfig& config_;
  ServerMetrics& metrics_;
  DrainGate& drain_;
  std::mutex mutex_;
  std::list<Worker> workers_;
};

}  // namespace roiserve::server
