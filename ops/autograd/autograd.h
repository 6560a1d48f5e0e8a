#pragma once
// Autograd of the pooling ops for any namespace that defines their schemas
// (define_kernel_op_schemas). Header-only, so that a library other than
// libroiserve_ops can register it for its own namespace.
#include <torch/library.h>

#include "ops/autograd/indexed_pool_function.h"
#include "ops/autograd/ps_roi_align_function.h"
#include "ops/autograd/roi_align_function.h"
#include "ops/autograd/spp_roi_pool_function.h"

namespace roiserve::ops {

inline constexpr char kOpsNamespace[] = "roiserve";

// Registers the Autograd kernels of the five pooling ops of `Namespace`, whose forward and backward
// run Namespace::<op> and Namespace::_<op>_backward through the dispatcher. m must be a
// TORCH_LIBRARY_IMPL(<Namespace>, Autograd, m) block.
template <const char* Namespace>
void register_autograd_kernels(torch::Library& m) {
  m.impl(detail::kRoIAlign, detail::roi_align_autograd<Namespace>);
  m.impl(detail::kRoIPool,
         detail::indexed_pool_autograd<Namespace, detail::kRoIPool, detail::kRoIPoolBackward>);
  m.impl(detail::kPSRoIPool,
         detail::indexed_pool_autograd<Namespace, detail::kPSRoIPool, detail::kPSRoIPoolBackward>);
  m.impl(detail::kPSRoIAlign, detail::ps_roi_align_autograd<Namespace>);
  m.impl(detail::kSppRoIPool, detail::spp_roi_pool_autograd<Namespace>);
}

}  // namespace roiserve::ops
