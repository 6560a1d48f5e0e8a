#include "server/roi_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <set>
#include <stdexcept>
#include <thread>

#include "detector/bundle/model_bundle.h"
#include "detector/model/prepared_conv.h"
#include "server/http_routes_v1.h"
#include "server/inference_protocol/http_routes_v2.h"
#include "server/logging.h"
#include "server/tls_files.h"
#include "server/web_routes.h"

namespace roiserve::server {
namespace {

constexpr const char* kServiceName = "roiserve.v1.DetectionService";

std::shared_ptr<grpc::ServerCredentials> server_credentials(const TlsConfig& tls) {
  if (tls.cert.empty()) return grpc::InsecureServerCredentials();
  const TlsFiles files = read_tls_files(tls);
  grpc::SslServerCredentialsOptions options(
      tls.client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                            : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = files.client_ca;
  options.pem_key_cert_pairs.push_back({files.private_key, files.certificate_chain});
  return grpc::SslServerCredentials(options);
}

std::string with_port(const std::string& address, int port) {
  return address.substr(0, address.rfind(':')) + ":" + std::to_string(port);
}

}  // namespace

RoiServer::RoiServer(ServerConfig config) : config_(std::move(config)) {}

RoiServer::~RoiServer() {
  shutdown();
}

void RoiServer::start() {
  auth_ =
      std::make_unique<TokenAuthenticator>(config_.auth.token_file, config_.auth.admin_token_file);
  // A lost device (a GPU's sticky error) leaves the process unable to serve
  // that model: health turns NOT_SERVING for good, so that load balancers
  // and probes take the replica out and it gets restarted.
  models_ = std::make_unique<ModelRepository>(
      config_, metrics_, [this](const std::string& model, const std::string& message) {
        device_lost_ = true;
        log_event(spdlog::level::err,
                  {{"event", "device_lost"}, {"model", model}, {"error", message}});
        set_serving(false);
      });
  admission_ = std::make_unique<Admission>(*models_, *auth_, config_.limits, metrics_, drain_);
  service_ = std::make_unique<DetectionService>(*admission_);
  admin_ = std::make_unique<AdminService>(*models_, *auth_, config_, metrics_, drain_);
  repository_models_ = std::make_unique<inference_protocol::RepositoryModels>(*models_, *admin_);
  inference_service_ = std::make_unique<inference_protocol::InferenceService>(
      *admission_, *repository_models_, [this] { return serving_.load(); });

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config_.listen, server_credentials(config_.tls), &port);
  builder.RegisterService(service_.get());
  builder.RegisterService(admin_.get());
  builder.RegisterService(inference_service_.get());
  builder.SetMaxReceiveMessageSize(static_cast<int>(config_.limits.max_message_bytes));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             static_cast<int>(config_.limits.max_concurrent_streams));
  if (config_.max_connection_age_s > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                               static_cast<int>(config_.max_connection_age_s * 1000));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                               static_cast<int>(config_.max_connection_age_grace_s * 1000));
  }
  server_ = builder.BuildAndStart();
  if (!server_ || port == 0) {
    throw std::runtime_error("cannot listen on " + config_.listen +
                             " (address in use, or not an address of this machine)");
  }
  grpc_address_ = with_port(config_.listen, port);
  set_serving(false);
  if (!config_.http_listen.empty()) {
    http_ = std::make_unique<HttpFrontend>(*auth_, config_.limits, metrics_, drain_);
    add_v1_routes(*http_, *admission_);
    add_web_routes(*http_, config_.ab_report);
    inference_protocol::add_v2_routes(*http_, *admission_, *repository_models_,
                                      [this] { return serving_.load(); });
    http_address_ = http_->start(config_.http_listen, config_.tls, config_.http_threads);
  }
  log_event(spdlog::level::info, {{"event", "listening"},
                                  {"grpc", grpc_address_},
                                  {"http", http_address_},
                                  {"tls", !config_.tls.cert.empty()},
                                  {"mutual_tls", !config_.tls.client_ca.empty()},
                                  {"auth", auth_->enabled()}});
}

void RoiServer::load_models() {
  models_->load_all();
  for (const auto& model : models_->models()) {
    const auto& batching = model->scheduler().config();
    log_event(spdlog::level::info, {{"event", "model_loaded"},
                                    {"model", model->name()},
                                    {"device", model->device().str()},
                                    {"layers", detector::prepared_layer_library(model->device())},
                                    {"heads", model->detector().box_head_names()},
                                    {"mask_poolers", model->detector().mask_pooler_names()},
                                    {"max_batch_size", batching.max_batch_size},
                                    {"max_queue_delay_ms", batching.max_queue_delay_ms},
                                    {"max_queue_size", batching.max_queue_size}});
  }
  set_serving(true);
  log_event(spdlog::level::info,
            {{"event", "serving"}, {"default_model", models_->default_name()}});
}

void RoiServer::apply_models(const std::vector<ModelEntry>& models) {
  std::set<std::string> listed;
  for (const ModelEntry& entry : models) {
    std::string name = entry.name;
    grpc::Status status;
    try {
      if (name.empty()) name = detector::read_model_config(entry.path).name;
    } catch (const std::exception& error) {
      status = {grpc::StatusCode::INVALID_ARGUMENT, error.what()};
    }
    std::shared_ptr<ServedModel> model;
    const bool serving = status.ok() && models_->find(name, model).ok();
    if (status.ok()) {
      status = serving ? models_->reload(name, entry.path, entry.batching, entry.device,
                                         entry.precision, model)
                       : models_->load(
                             {name, entry.path, entry.batching, entry.device, entry.precision},
                             model);
    }
    listed.insert(name);
    log_event(status.ok() ? spdlog::level::info : spdlog::level::err,
              {{"event", serving ? "model_reloaded" : "model_loaded"},
               {"model", name},
               {"path", entry.path.string()},
               {"device", entry.device},
               {"error", status.error_message()}});
  }
  const std::string default_name = models_->default_name();
  for (const auto& model : models_->models()) {
    if (listed.count(model->name()) || model->name() == default_name) continue;
    const grpc::Status status = models_->unload(model->name());
    log_event(
        status.ok() ? spdlog::level::info : spdlog::level::err,
        {{"event", "model_unloaded"}, {"model", model->name()}, {"error", status.error_message()}});
  }
}

void RoiServer::set_serving(bool serving) {
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  // The server ("") is SERVING only while the service is: whoever has seen
  // the server SERVING finds the service SERVING too. Never again after a
  // device was lost.
  if (serving && device_lost_) return;
  serving_ = serving;
  if (serving) health->SetServingStatus(kServiceName, true);
  health->SetServingStatus("", serving);
  if (!serving) health->SetServingStatus(kServiceName, false);
}

void RoiServer::shutdown() {
  if (stopped_ || !server_) return;
  stopped_ = true;
  log_event(spdlog::level::info, {{"event", "draining"},
                                  {"delay_s", config_.shutdown_delay_s},
                                  {"grace_s", config_.shutdown_grace_s}});
  set_serving(false);
  std::this_thread::sleep_for(std::chrono::duration<double>(config_.shutdown_delay_s));
  // New calls are refused from here; in-flight ones get the grace period.
  drain_.start_draining();
  const auto grace = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(config_.shutdown_grace_s));
  const bool finished = drain_.wait_idle(std::chrono::steady_clock::now() + grace);
  // Ends what is left at once: health watches, idle connections, and calls
  // past the grace period (cancelled; their queued jobs are dropped unrun).
  server_->Shutdown(std::chrono::system_clock::now());
  if (http_) http_->stop();
  log_event(finished ? spdlog::level::info : spdlog::level::warn,
            {{"event", "drained"}, {"in_flight_finished", finished}});
  admin_->join();
  models_->stop_all();
  log_event(spdlog::level::info, {{"event", "stopped"}});
}

}  // namespace roiserve::server
