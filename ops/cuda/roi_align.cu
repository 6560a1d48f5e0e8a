#include <torch/library.h>

#include "ops/cuda/cuda_backend.cuh"
#include "ops/cuda/roi_align_launch.h"

namespace roiserve::ops::cuda {

TORCH_LIBRARY_IMPL(roiserve, CUDA, m) {
  m.impl("roi_align", roi_align_forward<CudaBackend>);
  m.impl("_roi_align_backward", roi_align_backward<CudaBackend>);
}

}  // namespace roiserve::ops::cuda
