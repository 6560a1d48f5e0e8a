// libroiserve_cuda_host.so: the CUDA kernels run on the CPU, registered for
// CPU tensors as torch.ops.roiserve_cuda_host.<op> with exactly the schemas
// and autograd of torch.ops.roiserve, so that any test suite can run against
// the CUDA code paths on a machine without a GPU.
#include "ops/library.h"

#include <torch/library.h>

#include "ops/autograd/autograd.h"

namespace roiserve::ops::cuda {

inline constexpr char kHostNamespace[] = "roiserve_cuda_host";

TORCH_LIBRARY(roiserve_cuda_host, m) {
  define_kernel_op_schemas(m);
}

TORCH_LIBRARY_IMPL(roiserve_cuda_host, Autograd, m) {
  register_autograd_kernels<kHostNamespace>(m);
}

}  // namespace roiserve::ops::cuda
