#pragma once
// Box utilities of two-stage detectors, with torchvision's semantics. Boxes are
// (x1, y1, x2, y2) rows. Composite ATen code: any device, autograd included.
#include <ATen/core/Tensor.h>

namespace torch {
class Library;
}  // namespace torch

namespace roiserve::ops {

at::Tensor box_area(const at::Tensor& boxes);

// Pairwise IoU of boxes1 [N, 4] and boxes2 [M, 4] -> [N, M].
at::Tensor box_iou(const at::Tensor& boxes1, const at::Tensor& boxes2);

// Clamps x to [0, width] and y to [0, height]; boxes [..., 4].
at::Tensor clip_boxes_to_image(const at::Tensor& boxes, int64_t height, int64_t width);

// Indices of the boxes whose width and height are both >= min_size.
at::Tensor remove_small_boxes(const at::Tensor& boxes, double min_size);

// Faster R-CNN box regression targets (dx, dy, dw, dh) of reference_boxes
// relative to proposals, both [N, 4]; weights (wx, wy, ww, wh).
at::Tensor encode_boxes(const at::Tensor& reference_boxes, const at::Tensor& proposals,
                        at::ArrayRef<double> weights);

// Inverse of encode_boxes: rel_codes [N, 4k] applied to boxes [N, 4] -> [N, 4k].
// dw and dh are clamped to bbox_xform_clip before exp.
at::Tensor decode_boxes(const at::Tensor& rel_codes, const at::Tensor& boxes,
                        at::ArrayRef<double> weights, double bbox_xform_clip);

// Defines the box ops above in m's namespace.
void define_box_ops_schemas(torch::Library& m);

}  // namespace roiserve::ops
