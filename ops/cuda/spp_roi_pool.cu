#include <torch/library.h>

#include "ops/cuda/cuda_backend.cuh"
#include "ops/cuda/spp_roi_pool_launch.h"

namespace roiserve::ops::cuda {

TORCH_LIBRARY_IMPL(roiserve, CUDA, m) {
  m.impl("spp_roi_pool", spp_roi_pool_forward<CudaBackend>);
  m.impl("_spp_roi_pool_backward", spp_roi_pool_backward<CudaBackend>);
}

}  // namespace roiserve::ops::cuda
