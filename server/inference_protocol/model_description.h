#pragma once
// What the Open Inference Protocol says about a served model: its metadata
// (the tensors of tensor_mapping.h), Triton's model configuration and
// statistics, and the server's metadata.
#include "inference/grpc_service.pb.h"
#include "server/model_repository.h"

namespace roiserve::server::inference_protocol {

// Every model has one version, "1": roiserve serves one bundle per name.
inline constexpr const char* kModelVersion = "1";
inline constexpr const char* kPlatform = "roiserve";

// The model of that name (empty: the default) and version ("" or "1"):
// NOT_FOUND for another name or version.
grpc::Status find_model(ModelRepository& models, const std::string& name,
                        const std::string& version, std::shared_ptr<ServedModel>& model);
// NOT_FOUND for a version other than "" or "1".
grpc::Status check_version(const std::string& model, const std::string& version);
bool model_ready(ModelRepository& models, const std::string& name, const std::string& version);

void fill_server_metadata(inference::ServerMetadataResponse* response);
void fill_model_metadata(const ServedModel& model, inference::ModelMetadataResponse* response);
void fill_model_config(ServedModel& model, inference::ModelConfig* config);
// Of the named model, or of every model when `name` is empty.
grpc::Status fill_model_statistics(ModelRepository& models, const std::string& name,
                                   const std::string& version,
                                   inference::ModelStatisticsResponse* response);

}  // namespace roiserve::server::inference_protocol
