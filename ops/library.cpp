// The roiserve operator library. The pooling and nms forward/backward schemas
// are exactly torchvision 0.14's, so roiserve ops are drop-in replacements.
#include "ops/library.h"

#include <torch/library.h>

#include "ops/box_ops.h"
#include "ops/nms.h"
#include "ops/ps_roi_align.h"
#include "ops/ps_roi_pool.h"
#include "ops/roi_align.h"
#include "ops/roi_pool.h"
#include "ops/spp_roi_pool.h"

namespace roiserve::ops {

void define_kernel_op_schemas(torch::Library& m) {
  define_roi_align_schemas(m);
  define_roi_pool_schemas(m);
  define_ps_roi_pool_schemas(m);
  define_ps_roi_align_schemas(m);
  define_nms_schemas(m);
  // Beyond torchvision.
  define_spp_roi_pool_schemas(m);
}

TORCH_LIBRARY(roiserve, m) {
  define_kernel_op_schemas(m);
  define_batched_nms_schemas(m);
  define_box_ops_schemas(m);
}

}  // namespace roiserve::ops
