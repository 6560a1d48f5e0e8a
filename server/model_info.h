#pragma once
// GetModelInfo's answer: a served model's classes, heads, input rules,
// defaults and batching, as a client needs them.
#include "roiserve/v1/detection.pb.h"
#include "server/model_repository.h"

namespace roiserve::server {

void fill_model_info(ServedModel& model, const LimitsConfig& limits, v1::ModelInfo* info);

}  // namespace roiserve::server
