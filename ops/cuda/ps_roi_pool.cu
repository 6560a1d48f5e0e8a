#include <torch/library.h>

#include "ops/cuda/cuda_backend.cuh"
#include "ops/cuda/ps_roi_pool_launch.h"

namespace roiserve::ops::cuda {

TORCH_LIBRARY_IMPL(roiserve, CUDA, m) {
  m.impl("ps_roi_pool", ps_roi_pool_forward<CudaBackend>);
  m.impl("_ps_roi_pool_backward", ps_roi_pool_backward<CudaBackend>);
}

}  // namespace roiserve::ops::cuda
