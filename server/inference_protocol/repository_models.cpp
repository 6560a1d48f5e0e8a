#include "server/inference_protocol/repository_models.h"

#include <stdexcept>

#include "server/inference_protocol/model_description.h"

namespace roiserve::server::inference_protocol {

RepositoryModels::RepositoryModels(ModelRepository& models, AdminService& admin)
    : models_(models), admin_(admin) {}

void RepositoryModels::remember_served() {
  for (const auto& model : models_.models()) {
    v1::LoadModelRequest request;
    request.set_name(model->name());
    request.set_path(model->path().string());
    request.set_device(model->device().str());
    const BatchingConfig& batching = model->scheduler().config();
    request.mutable_batching()->set_max_batch_size(static_cast<uint32_t>(batching.max_batch_size));
    request.mutable_batching()->set_max_queue_delay_ms(batching.max_queue_delay_ms);
    request.mutable_batching()->set_max_queue_size(static_cast<uint32_t>(batching.max_queue_size));
    known_[model->name()] = std::move(request);
  }
}

void RepositoryModels::index(bool ready_only, inference::RepositoryIndexResponse* response) {
  std::lock_guard<std::mutex> lock(mutex_);
  remember_served();
  for (const auto& [name, request] : known_) {
    std::shared_ptr<ServedModel> model;
    const bool ready = models_.find(name, model).ok();
    if (ready_only && !ready) continue;
    auto* entry = response->add_models();
    entry->set_name(name);
    entry->set_version(kModelVersion);
    entry->set_state(ready ? "READY" : "UNAVAILABLE");
    if (!ready) entry->set_reason("unloaded");
  }
}

void RepositoryModels::load(const std::string& name, const std::string& path, AdminDone done) {
  std::shared_ptr<ServedModel> served;
  const bool serving = models_.find(name, served).ok();
  v1::LoadModelRequest request;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    remember_served();
    const auto found = known_.find(name);
    if (!serving && found == known_.end() && path.empty()) {
      done({grpc::StatusCode::NOT_FOUND,
            "model '" + name + "' is not in the repository (load it with parameter \"path\": "
            "its bundle directory)"});
      return;
    }
    if (found != known_.end()) request = found->second;
    request.set_name(name);
    if (!path.empty()) {
      request.set_path(path);
      request.clear_batching();  // a new bundle gets the server's batching
    }
  }
  admin_.run_in_background(
      [this, serving, request] {
        v1::LoadModelResponse response;
        if (!serving) return admin_.load(request, &response);
        // Loading a served model loads its bundle again, as Triton does.
        v1::ReloadModelRequest reload;
        reload.set_name(request.name());
        reload.set_path(request.path());
        return admin_.reload(reload, &response);
      },
      std::move(done));
}

void RepositoryModels::unload(const std::string& name, AdminDone done) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    remember_served();
  }
  admin_.run_in_background([this, name] { return admin_.unload(name); }, std::move(done));
}

std::string load_path_parameter(
    const google::protobuf::Map<std::string, inference::ModelRepositoryParameter>& parameters) {
  for (const auto& [name, value] : parameters) {
    if (name != "path") {
      throw std::invalid_argument("parameter '" + name +
                                  "' is not supported: roiserve loads model bundles, from the "
                                  "directory given as parameter \"path\"");
    }
    if (value.parameter_choice_case() != inference::ModelRepositoryParameter::kStringParam) {
      throw std::invalid_argument("parameter path must be a string (the bundle directory)");
    }
    return value.string_param();
  }
  return "";
}

}  // namespace roiserve::server::inference_protocol
