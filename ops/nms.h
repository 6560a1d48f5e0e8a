#pragma once
// Non-maximum suppression. Both return the indices of the kept boxes in
// decreasing score order (ties: lower index first).
#include <ATen/core/Tensor.h>

namespace torch {
class Library;
}  // namespace torch

namespace roiserve::ops {

// boxes [N, 4] as (x1, y1, x2, y2), scores [N]. Suppresses a box whose IoU with
// a kept, higher-scoring box is > iou_threshold.
at::Tensor nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold);

// NMS within each category of idxs [N] (int64): boxes of different categories
// never suppress each other. Done per category rather than with torchvision's
// coordinate-offset trick, which loses precision for large coordinates.
at::Tensor batched_nms(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                       double iou_threshold);

// Defines nms in m's namespace.
void define_nms_schemas(torch::Library& m);

// Defines batched_nms in m's namespace. Apart from nms because its one kernel is
// composite and calls roiserve::nms: another namespace would not run its own nms.
void define_batched_nms_schemas(torch::Library& m);

}  // namespace roiserve::ops
