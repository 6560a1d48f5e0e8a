#include <torch/library.h>

#include "ops/cuda/host/host_backend.h"
#include "ops/cuda/ps_roi_pool_launch.h"

namespace roiserve::ops::cuda {

TORCH_LIBRARY_IMPL(roiserve_cuda_host, CPU, m) {
  m.impl("ps_roi_pool", ps_roi_pool_forward<HostBackend>);
  m.impl("_ps_roi_pool_backward", ps_roi_pool_backward<HostBackend>);
}

}  // namespace roiserve::ops::cuda
