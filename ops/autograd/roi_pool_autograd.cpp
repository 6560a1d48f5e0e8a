// Autograd for roi_pool; the argmax output is not differentiable.
#include <torch/library.h>

#include "ops/autograd/indexed_pool_function.h"
#include "ops/roi_pool.h"

namespace roiserve::ops {

TORCH_LIBRARY_IMPL(roiserve, Autograd, m) {
  m.impl("roi_pool", indexed_pool_autograd<roi_pool, roi_pool_backward>);
}

}  // namespace roiserve::ops
