#pragma once
// ListModels' and GetModelInfo's answers: the served models, and one
// model's classes, heads, input rules, defaults and batching, as a client
// needs them.
#include "roiserve/v1/detection.pb.h"
#include "server/model_repository.h"

namespace roiserve::server {

// Not OK when no model serves (no default model to mark).
grpc::Status fill_model_list(const ModelRepository& models, v1::ListModelsResponse* list);

void fill_model_info(ServedModel& model, const LimitsConfig& limits, v1::ModelInfo* info);

}  // namespace roiserve::server
