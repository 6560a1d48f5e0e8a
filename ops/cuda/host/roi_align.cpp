#include <torch/library.h>

#include "ops/cuda/host/host_backend.h"
#include "ops/cuda/roi_align_launch.h"

namespace roiserve::ops::cuda {

TORCH_LIBRARY_IMPL(roiserve_cuda_host, CPU, m) {
  m.impl("roi_align", roi_align_forward<HostBackend>);
  m.impl("_roi_align_backward", roi_align_backward<HostBackend>);
}

}  // namespace roiserve::ops::cuda
