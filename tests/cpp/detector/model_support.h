#pragma once
// A tiny detector configuration (every head, both mask poolers) that builds
// and runs in milliseconds, for the model tests.
#include "detector/config/model_config.h"

namespace roiserve::test {

detector::ModelConfig tiny_model_config();

}  // namespace roiserve::test
