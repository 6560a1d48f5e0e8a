#pragma once
// The --device flag of the tools: "cpu", "cuda" or "cuda:N".
#include <c10/core/Device.h>

#include <string>

namespace roiserve::tools {

// Throws std::invalid_argument for a malformed name, or a CUDA device that
// this LibTorch build or this machine does not have.
c10::Device parse_device(const std::string& name);

}  // namespace roiserve::tools
