#include <torch/library.h>

#include "ops/cuda/cuda_backend.cuh"
#include "ops/cuda/nms_launch.h"

namespace roiserve::ops::cuda {

TORCH_LIBRARY_IMPL(roiserve, CUDA, m) {
  m.impl("nms", nms_forward<CudaBackend>);
}

}  // namespace roiserve::ops::cuda
