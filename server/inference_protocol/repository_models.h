#pragma once
// Triton's model repository extension on roiserve's models: the index lists
// every model the server has served (READY while it serves, UNAVAILABLE
// once unloaded), load reloads a served model or loads a listed one again
// (or a new one from the bundle directory given as parameter "path"), and
// unload unloads. The work is the admin service's (admin_service.h), run on
// its threads; callers authorize the admin role first.
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "inference/grpc_service.pb.h"
#include "roiserve/v1/admin.pb.h"
#include "server/admin_service.h"
#include "server/model_repository.h"

namespace roiserve::server::inference_protocol {

using AdminDone = std::function<void(const grpc::Status&)>;

class RepositoryModels {
 public:
  RepositoryModels(ModelRepository& models, AdminService& admin);

  void index(bool ready_only, inference::RepositoryIndexResponse* response);
  // `path` empty: the model's own bundle. `done` follows on an admin thread.
  void load(const std::string& name, const std::string& path, AdminDone done);
  void unload(const std::string& name, AdminDone done);

 private:
  // Remembers how each served model was loaded, to load it again.
  void remember_served();

  ModelRepository& models_;
  AdminService& admin_;
  std::mutex mutex_;
  std::map<std::string, v1::LoadModelRequest> known_;
};

// The bundle directory of a load request's "path" parameter (empty when
// absent); std::invalid_argument when it is not a string or another
// parameter is given (Triton's "config" and "file:" overrides have no
// meaning for a bundle).
std::string load_path_parameter(
    const google::protobuf::Map<std::string, inference::ModelRepositoryParameter>& parameters);

}  // namespace roiserve::server::inference_protocol
