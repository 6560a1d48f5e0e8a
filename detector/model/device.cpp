#include "detector/model/device.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/Stream.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <c10/util/Exception.h>

#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>

namespace roiserve::detector {
namespace {

// The RoI operators with a kernel per device that the detector calls (the
// box utilities and batched_nms are composite ATen code, on every device).
constexpr const char* kKernelOps[] = {"roiserve::roi_align", "roiserve::roi_pool",
                                      "roiserve::ps_roi_pool", "roiserve::spp_roi_pool",
                                      "roiserve::nms"};

std::invalid_argument bad_name(const std::string& name) {
  return std::invalid_argument("'" + name +
                               "' is not a device: expected cpu, cuda or cuda:N (N a GPU index)");
}

bool has_kernel(const char* op, c10::DispatchKey key) {
  const auto handle = c10::Dispatcher::singleton().findSchema(c10::OperatorName(op, ""));
  return handle && handle->hasKernelForDispatchKey(key);
}

}  // namespace

c10::Device parse_device(const std::string& name) {
  if (name == "cpu") return c10::Device(c10::kCPU);
  if (name == "cuda") return c10::Device(c10::kCUDA, 0);
  const std::string prefix = "cuda:";
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0)
    throw bad_name(name);
  int index = 0;
  for (size_t i = prefix.size(); i < name.size(); ++i) {
    const char digit = name[i];
    if (digit < '0' || digit > '9') throw bad_name(name);
    index = index * 10 + (digit - '0');
    if (index > std::numeric_limits<c10::DeviceIndex>::max()) throw bad_name(name);
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

void check_device_available(c10::Device device) {
  if (device.is_cpu()) return;
  const std::string name = device.str();
  if (!device.is_cuda()) {
    throw std::invalid_argument("device " + name + ": the detector runs on cpu or cuda only");
  }
  if (!c10::impl::hasDeviceGuardImpl(c10::DeviceType::CUDA)) {
    throw std::invalid_argument(
        "device " + name +
        ": this LibTorch has no CUDA support (a CPU-only build, such as Debian's libtorch); "
        "build roiserve against a CUDA-enabled LibTorch to run on a GPU");
  }
  const int count = c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)->deviceCount();
  if (count == 0) {
    throw std::invalid_argument(
        "device " + name +
        ": no CUDA device found (no GPU, no driver, or CUDA_VISIBLE_DEVICES "
        "hides them all)");
  }
  if (device.has_index() && device.index() >= count) {
    throw std::invalid_argument("device " + name + ": this machine has " + std::to_string(count) +
                                " CUDA device" + (count == 1 ? "" : "s") + " (cuda:0" +
                                (count == 1 ? "" : "..cuda:" + std::to_string(count - 1)) + ")");
  }
  bool any_kernel = false;
  for (const char* op : kKernelOps) any_kernel |= has_kernel(op, c10::DispatchKey::CUDA);
  if (!any_kernel) {
    throw std::invalid_argument(
        "device " + name +
        ": this roiserve build has no CUDA kernels for its RoI operators (configure it with "
        "-DROISERVE_CUDA=ON against a CUDA-enabled LibTorch)");
  }
}

c10::Device resolve_device(const std::string& name) {
  const c10::Device device = parse_device(name);
  check_device_available(device);
  return device;
}

void synchronize(c10::Device device) {
  if (device.is_cpu()) return;
  const c10::impl::VirtualGuardImpl guard(device.type());
  guard.getStream(device).synchronize();
}

bool device_responds(c10::Device device) noexcept {
  if (device.is_cpu()) return true;
  try {
    const at::Tensor probe = at::ones({1}, at::TensorOptions(at::kFloat).device(device)) * 2;
    return probe.to(at::kCPU).item<float>() == 2.0f;
  } catch (...) {
    return false;
  }
}

bool is_out_of_memory(const std::exception& error) noexcept {
  if (dynamic_cast<const c10::OutOfMemoryError*>(&error) != nullptr) return true;
  if (dynamic_cast<const std::bad_alloc*>(&error) != nullptr) return true;
  if (dynamic_cast<const c10::Error*>(&error) == nullptr) return false;
  const char* message = error.what();
  return std::strstr(message, "out of memory") != nullptr ||
         std::strstr(message, "ALLOC_FAILED") != nullptr;
}

std::string error_message(const std::exception& error) {
  if (const auto* torch_error = dynamic_cast<const c10::Error*>(&error)) {
    return torch_error->what_without_backtrace();
  }
  return error.what();
}

}  // namespace roiserve::detector
