#include "tools/common/device.h"

#include <ATen/Context.h>

#include <stdexcept>

namespace roiserve::tools {

c10::Device parse_device(const std::string& name) {
  if (name != "cpu" && name != "cuda" && name.rfind("cuda:", 0) != 0) {
    throw std::invalid_argument("--device must be cpu, cuda or cuda:N, got '" + name + "'");
  }
  c10::Device device(c10::kCPU);
  try {
    device = c10::Device(name);
  } catch (const c10::Error&) {
    throw std::invalid_argument("--device must be cpu, cuda or cuda:N, got '" + name + "'");
  }
  if (device.is_cuda()) {
    if (!at::hasCUDA()) {
      throw std::invalid_argument("--device " + name +
                                  ": this LibTorch has no CUDA support or finds no GPU");
    }
    const auto gpus = static_cast<int64_t>(at::getNumGPUs());
    if (device.has_index() && device.index() >= gpus) {
      throw std::invalid_argument("--device " + name + ": this machine has " +
                                  std::to_string(at::getNumGPUs()) + " GPU(s)");
    }
  }
  return device;
}

}  // namespace roiserve::tools
