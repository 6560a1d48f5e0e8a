#pragma once
// The whole server: gRPC (detection service, health, reflection), the HTTP
// frontend (/metrics, /v1 routes), the models, metrics, and the order of
// starting and stopping them.
//
//   start()        bind ports; health NOT_SERVING; HTTP up
//   load_models()  load every bundle; health SERVING
//   apply_models() on SIGHUP: load, reload and unload to match a config's models
//   shutdown()     health NOT_SERVING; refuse new calls; in-flight calls get
//                  the grace period to finish, then are cancelled; workers stop
//
// A model whose device is lost (ModelRepository's handler, on its worker)
// turns health NOT_SERVING until the process ends.
#include <grpcpp/server.h>

#include <atomic>
#include <memory>
#include <string>

#include "server/admin_service.h"
#include "server/auth.h"
#include "server/detection_service.h"
#include "server/http_frontend.h"
#include "server/inference_protocol/inference_service.h"
#include "server/metrics.h"
#include "server/model_repository.h"
#include "server/server_config.h"

namespace roiserve::server {

class RoiServer {
 public:
  explicit RoiServer(ServerConfig config);
  ~RoiServer();

  // Throws std::runtime_error when a port cannot be bound or a TLS or token
  // file cannot be read.
  void start();
  // Throws std::runtime_error naming the bundle that failed.
  void load_models();
  // Reloads every model of `models` that serves, loads the others, and
  // unloads those served but not listed (the default model stays). Logs
  // what fails; what loads serves.
  void apply_models(const std::vector<ModelEntry>& models);
  void shutdown();

  // host:port actually bound (after start()); http empty when off.
  const std::string& grpc_address() const { return grpc_address_; }
  const std::string& http_address() const { return http_address_; }

 private:
  void set_serving(bool serving);

  ServerConfig config_;
  ServerMetrics metrics_;
  DrainGate drain_;
  std::unique_ptr<TokenAuthenticator> auth_;
  std::unique_ptr<ModelRepository> models_;
  std::unique_ptr<Admission> admission_;
  std::unique_ptr<DetectionService> service_;
  std::unique_ptr<AdminService> admin_;
  std::unique_ptr<inference_protocol::RepositoryModels> repository_models_;
  std::unique_ptr<inference_protocol::InferenceService> inference_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<HttpFrontend> http_;
  std::string grpc_address_;
  std::string http_address_;
  bool stopped_ = false;
  std::atomic<bool> device_lost_{false};
  std::atomic<bool> serving_{false};  // what health says of the server
};

}  // namespace roiserve::server
