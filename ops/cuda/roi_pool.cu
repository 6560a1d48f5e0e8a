#include <torch/library.h>

#include "ops/cuda/cuda_backend.cuh"
#include "ops/cuda/roi_pool_launch.h"

namespace roiserve::ops::cuda {

TORCH_LIBRARY_IMPL(roiserve, CUDA, m) {
  m.impl("roi_pool", roi_pool_forward<CudaBackend>);
  m.impl("_roi_pool_backward", roi_pool_backward<CudaBackend>);
}

}  // namespace roiserve::ops::cuda
