#include <torch/library.h>

#include "ops/cuda/host/host_backend.h"
#include "ops/cuda/ps_roi_align_launch.h"

namespace roiserve::ops::cuda {

TORCH_LIBRARY_IMPL(roiserve_cuda_host, CPU, m) {
  m.impl("ps_roi_align", ps_roi_align_forward<HostBackend>);
  m.impl("_ps_roi_align_backward", ps_roi_align_backward<HostBackend>);
}

}  // namespace roiserve::ops::cuda
