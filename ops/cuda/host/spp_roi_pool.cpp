#include <torch/library.h>

#include "ops/cuda/host/host_backend.h"
#include "ops/cuda/spp_roi_pool_launch.h"

namespace roiserve::ops::cuda {

TORCH_LIBRARY_IMPL(roiserve_cuda_host, CPU, m) {
  m.impl("spp_roi_pool", spp_roi_pool_forward<HostBackend>);
  m.impl("_spp_roi_pool_backward", spp_roi_pool_backward<HostBackend>);
}

}  // namespace roiserve::ops::cuda
