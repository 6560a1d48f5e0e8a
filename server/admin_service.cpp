#include "server/admin_service.h"

#include "server/call_context.h"
#include "server/clock.h"
#include "server/logging.h"
#include "server/model_info.h"

namespace roiserve::server {

AdminService::AdminService(ModelRepository& models, const TokenAuthenticator& auth,
                           const ServerConfig& config, ServerMetrics& metrics, DrainGate& drain)
    : models_(models), auth_(auth), config_(config), metrics_(metrics), drain_(drain) {}

AdminService::~AdminService() {
  join();
}

void AdminService::join() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (Worker& worker : workers_) {
    if (worker.thread.joinable()) worker.thread.join();
  }
  workers_.clear();
}

grpc::ServerUnaryReactor* AdminService::run(const char* method,
                                            grpc::CallbackServerContext* context,
                                            std::function<grpc::Status()> work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto record = std::make_shared<CallRecord>(metrics_, method, context->peer());
  grpc::Status allowed = drain_.admit();
  if (allowed.ok()) allowed = auth_.authorize(*context, Role::kAdmin);
  if (!allowed.ok()) {
    record->finish(allowed);
    reactor->Finish(allowed);
    return reactor;
  }
  run_in_background(std::move(work), [reactor, record](const grpc::Status& status) {
    record->finish(status);
    reactor->Finish(status);
  });
  return reactor;
}

void AdminService::run_in_background(std::function<grpc::Status()> work,
                                     std::function<void(const grpc::Status&)> finish) {
  std::lock_guard<std::mutex> lock(mutex_);
  workers_.remove_if([](Worker& worker) {
    if (!worker.finished) return false;
    worker.thread.join();
    return true;
  });
  Worker& worker = workers_.emplace_back();
  worker.thread = std::thread([work = std::move(work), finish = std::move(finish), &worker] {
    grpc::Status status;
    try {
      status = work();
    } catch (const std::exception& error) {
      status = {grpc::StatusCode::INTERNAL, error.what()};
    }
    finish(status);
    worker.finished = true;
  });
}

void AdminService::describe(ServedModel& model, double milliseconds,
                            v1::LoadModelResponse* response) const {
  fill_model_info(model, config_.limits, response->mutable_model());
  response->set_load_milliseconds(milliseconds);
  log_event(spdlog::level::info, {{"event", "model_loaded"},
                                  {"model", model.name()},
                                  {"path", model.path().string()},
                                  {"device", model.device().str()},
                                  {"ms", milliseconds}});
}

grpc::ServerUnaryReactor* AdminService::LoadModel(grpc::CallbackServerContext* context,
                                                  const v1::LoadModelRequest* request,
                                                  v1::LoadModelResponse* response) {
  return run("LoadModel", context, [this, request, response] { return load(*request, response); });
}

grpc::ServerUnaryReactor* AdminService::ReloadModel(grpc::CallbackServerContext* context,
                                                    const v1::ReloadModelRequest* request,
                                                    v1::LoadModelResponse* response) {
  return run("ReloadModel", context, [this, request, response] { return reload(*request, response); });
}

grpc::ServerUnaryReactor* AdminService::UnloadModel(grpc::CallbackServerContext* context,
                                                    const v1::UnloadModelRequest* request,
                                                    v1::UnloadModelResponse*) {
  return run("UnloadModel", context, [this, request] { return unload(request->name()); });
}

grpc::Status AdminService::load(const v1::LoadModelRequest& request, v1::LoadModelResponse* response) {
  if (request.path().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "LoadModel needs a bundle path");
  }
  // An empty device is the server's (ModelRepository::build).
  ModelEntry entry{request.name(), request.path(), config_.batching, request.device(),
                   request.precision()};
  if (request.has_batching()) {
    entry.batching.max_batch_size = request.batching().max_batch_size();
    entry.batching.max_queue_delay_ms = request.batching().max_queue_delay_ms();
    entry.batching.max_queue_size = request.batching().max_queue_size();
    try {
      validate_batching(entry.batching, "batching: ");
    } catch (const std::invalid_argument& error) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, error.what());
    }
  }
  const Clock::time_point start = Clock::now();
  std::shared_ptr<ServedModel> model;
  const grpc::Status status = models_.load(entry, model);
  if (status.ok()) describe(*model, milliseconds_since(start), response);
  return status;
}

grpc::Status AdminService::reload(const v1::ReloadModelRequest& request,
                                  v1::LoadModelResponse* response) {
  const Clock::time_point start = Clock::now();
  std::shared_ptr<ServedModel> model;
  const grpc::Status status = models_.reload(request.name(), request.path(), std::nullopt, "", "", model);
  if (status.ok()) describe(*model, milliseconds_since(start), response);
  return status;
}

grpc::Status AdminService::unload(const std::string& name) {
  const grpc::Status status = models_.unload(name);
  if (status.ok()) log_event(spdlog::level::info, {{"event", "model_unloaded"}, {"model", name}});
  return status;
}

}  // namespace roiserve::server
