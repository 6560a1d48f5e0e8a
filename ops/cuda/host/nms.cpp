#include <torch/library.h>

#include "ops/cuda/host/host_backend.h"
#include "ops/cuda/nms_launch.h"

namespace roiserve::ops::cuda {

TORCH_LIBRARY_IMPL(roiserve_cuda_host, CPU, m) {
  m.impl("nms", nms_forward<HostBackend>);
}

}  // namespace roiserve::ops::cuda
