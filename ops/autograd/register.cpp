#include <torch/library.h>

#include "ops/autograd/autograd.h"

namespace roiserve::ops {

TORCH_LIBRARY_IMPL(roiserve, Autograd, m) {
  register_autograd_kernels<kOpsNamespace>(m);
}

}  // namespace roiserve::ops
