// Autograd for ps_roi_pool; channel_mapping is not differentiable.
#include <torch/library.h>

#include "ops/autograd/indexed_pool_function.h"
#include "ops/ps_roi_pool.h"

namespace roiserve::ops {

TORCH_LIBRARY_IMPL(roiserve, Autograd, m) {
  m.impl("ps_roi_pool", indexed_pool_autograd<ps_roi_pool, ps_roi_pool_backward>);
}

}  // namespace roiserve::ops
