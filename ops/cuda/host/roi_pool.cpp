#include <torch/library.h>

#include "ops/cuda/host/host_backend.h"
#include "ops/cuda/roi_pool_launch.h"

namespace roiserve::ops::cuda {

TORCH_LIBRARY_IMPL(roiserve_cuda_host, CPU, m) {
  m.impl("roi_pool", roi_pool_forward<HostBackend>);
  m.impl("_roi_pool_backward", roi_pool_backward<HostBackend>);
}

}  // namespace roiserve::ops::cuda
