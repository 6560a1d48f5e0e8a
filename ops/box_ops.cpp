#include "ops/box_ops.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

namespace roiserve::ops {

void define_box_ops_schemas(torch::Library& m) {
  m.def("box_area(Tensor boxes) -> Tensor");
  m.def("box_iou(Tensor boxes1, Tensor boxes2) -> Tensor");
  m.def("clip_boxes_to_image(Tensor boxes, int height, int width) -> Tensor");
  m.def("remove_small_boxes(Tensor boxes, float min_size) -> Tensor");
  m.def("encode_boxes(Tensor reference_boxes, Tensor proposals, float[] weights) -> Tensor");
  m.def(
      "decode_boxes(Tensor rel_codes, Tensor boxes, float[] weights, float bbox_xform_clip) "
      "-> Tensor");
}

namespace {

void check_boxes(const char* op, const char* name, const at::Tensor& boxes) {
  TORCH_CHECK_VALUE(boxes.dim() == 2 && boxes.size(1) == 4, op, ": ", name,
                    " must have shape [N, 4], got ", boxes.sizes());
  TORCH_CHECK_TYPE(at::isFloatingType(boxes.scalar_type()), op, ": ", name,
                   " must be a floating point tensor, got ", boxes.scalar_type());
}

void check_weights(const char* op, at::ArrayRef<double> weights) {
  TORCH_CHECK_VALUE(weights.size() == 4, op, ": weights must hold 4 values (wx, wy, ww, wh), got ",
                    weights.size());
}

at::Tensor box_area_impl(const at::Tensor& boxes) {
  check_boxes("box_area", "boxes", boxes);
  return (boxes.select(1, 2) - boxes.select(1, 0)) * (boxes.select(1, 3) - boxes.select(1, 1));
}

at::Tensor box_iou_impl(const at::Tensor& boxes1, const at::Tensor& boxes2) {
  check_boxes("box_iou", "boxes1", boxes1);
  check_boxes("box_iou", "boxes2", boxes2);
  const at::Tensor area1 = box_area_impl(boxes1);
  const at::Tensor area2 = box_area_impl(boxes2);
  const at::Tensor top_left = at::max(boxes1.unsqueeze(1).slice(2, 0, 2), boxes2.slice(1, 0, 2));
  const at::Tensor bottom_right =
      at::min(boxes1.unsqueeze(1).slice(2, 2, 4), boxes2.slice(1, 2, 4));
  const at::Tensor extent = (bottom_right - top_left).clamp_min(0);
  const at::Tensor inter = extent.select(2, 0) * extent.select(2, 1);
  return inter / (area1.unsqueeze(1) + area2 - inter);
}

at::Tensor clip_boxes_to_image_impl(const at::Tensor& boxes, int64_t height, int64_t width) {
  TORCH_CHECK_VALUE(boxes.dim() >= 1 && boxes.size(-1) == 4,
                    "clip_boxes_to_image: boxes must have shape [..., 4], got ", boxes.sizes());
  TORCH_CHECK_VALUE(height >= 0 && width >= 0,
                    "clip_boxes_to_image: image size must be non-negative, got ", height, "x",
                    width);
  const at::Tensor xs = boxes.slice(-1, 0, 4, 2).clamp(0, width);
  const at::Tensor ys = boxes.slice(-1, 1, 4, 2).clamp(0, height);
  return at::stack({xs, ys}, -1).reshape(boxes.sizes());
}

at::Tensor remove_small_boxes_impl(const at::Tensor& boxes, double min_size) {
  check_boxes("remove_small_boxes", "boxes", boxes);
  const at::Tensor widths = boxes.select(1, 2) - boxes.select(1, 0);
  const at::Tensor heights = boxes.select(1, 3) - boxes.select(1, 1);
  return at::where(widths.ge(min_size).logical_and(heights.ge(min_size)))[0];
}

at::Tensor encode_boxes_impl(const at::Tensor& reference_boxes, const at::Tensor& proposals,
                             at::ArrayRef<double> weights) {
  check_boxes("encode_boxes", "reference_boxes", reference_boxes);
  check_boxes("encode_boxes", "proposals", proposals);
  check_weights("encode_boxes", weights);
  TORCH_CHECK_VALUE(
      reference_boxes.size(0) == proposals.size(0),
      "encode_boxes: reference_boxes and proposals must have the same number of rows, got ",
      reference_boxes.size(0), " and ", proposals.size(0));
  const at::Tensor ex_widths = proposals.select(1, 2) - proposals.select(1, 0);
  const at::Tensor ex_heights = proposals.select(1, 3) - proposals.select(1, 1);
  const at::Tensor ex_ctr_x = proposals.select(1, 0) + 0.5 * ex_widths;
  const at::Tensor ex_ctr_y = proposals.select(1, 1) + 0.5 * ex_heights;
  const at::Tensor gt_widths = reference_boxes.select(1, 2) - reference_boxes.select(1, 0);
  const at::Tensor gt_heights = reference_boxes.select(1, 3) - reference_boxes.select(1, 1);
  const at::Tensor gt_ctr_x = reference_boxes.select(1, 0) + 0.5 * gt_widths;
  const at::Tensor gt_ctr_y = reference_boxes.select(1, 1) + 0.5 * gt_heights;
  return at::stack(
      {weights[0] * (gt_ctr_x - ex_ctr_x) / ex_widths,
       weights[1] * (gt_ctr_y - ex_ctr_y) / ex_heights, weights[2] * at::log(gt_widths / ex_widths),
       weights[3] * at::log(gt_heights / ex_heights)},
      1);
}

at::Tensor decode_boxes_impl(const at::Tensor& rel_codes, const at::Tensor& boxes,
                             at::ArrayRef<double> weights, double bbox_xform_clip) {
  check_boxes("decode_boxes", "boxes", boxes);
  check_weights("decode_boxes", weights);
  TORCH_CHECK_VALUE(
      rel_codes.dim() == 2 && rel_codes.size(1) % 4 == 0 && rel_codes.size(0) == boxes.size(0),
      "decode_boxes: rel_codes must have shape [", boxes.size(0), ", 4k] to match boxes, got ",
      rel_codes.sizes());
  const at::Tensor anchors = boxes.to(rel_codes.scalar_type());
  const at::Tensor widths = (anchors.select(1, 2) - anchors.select(1, 0)).unsqueeze(1);
  const at::Tensor heights = (anchors.select(1, 3) - anchors.select(1, 1)).unsqueeze(1);
  const at::Tensor ctr_x = anchors.select(1, 0).unsqueeze(1) + 0.5 * widths;
  const at::Tensor ctr_y = anchors.select(1, 1).unsqueeze(1) + 0.5 * heights;
  const int64_t n = rel_codes.size(1);
  const at::Tensor dx = rel_codes.slice(1, 0, n, 4) / weights[0];
  const at::Tensor dy = rel_codes.slice(1, 1, n, 4) / weights[1];
  const at::Tensor dw = (rel_codes.slice(1, 2, n, 4) / weights[2]).clamp_max(bbox_xform_clip);
  const at::Tensor dh = (rel_codes.slice(1, 3, n, 4) / weights[3]).clamp_max(bbox_xform_clip);
  const at::Tensor pred_ctr_x = dx * widths + ctr_x;
  const at::Tensor pred_ctr_y = dy * heights + ctr_y;
  const at::Tensor half_w = 0.5 * (at::exp(dw) * widths);
  const at::Tensor half_h = 0.5 * (at::exp(dh) * heights);
  return at::stack(
             {pred_ctr_x - half_w, pred_ctr_y - half_h, pred_ctr_x + half_w, pred_ctr_y + half_h},
             2)
      .flatten(1);
}

}  // namespace

#define ROISERVE_DISPATCH_CALL(name, ...)                         \
  static auto op = c10::Dispatcher::singleton()                   \
                       .findSchemaOrThrow("roiserve::" #name, "") \
                       .typed<decltype(name)>();                  \
  return op.call(__VA_ARGS__)

at::Tensor box_area(const at::Tensor& boxes) {
  ROISERVE_DISPATCH_CALL(box_area, boxes);
}

at::Tensor box_iou(const at::Tensor& boxes1, const at::Tensor& boxes2) {
  ROISERVE_DISPATCH_CALL(box_iou, boxes1, boxes2);
}

at::Tensor clip_boxes_to_image(const at::Tensor& boxes, int64_t height, int64_t width) {
  ROISERVE_DISPATCH_CALL(clip_boxes_to_image, boxes, height, width);
}

at::Tensor remove_small_boxes(const at::Tensor& boxes, double min_size) {
  ROISERVE_DISPATCH_CALL(remove_small_boxes, boxes, min_size);
}

at::Tensor encode_boxes(const at::Tensor& reference_boxes, const at::Tensor& proposals,
                        at::ArrayRef<double> weights) {
  ROISERVE_DISPATCH_CALL(encode_boxes, reference_boxes, proposals, weights);
}

at::Tensor decode_boxes(const at::Tensor& rel_codes, const at::Tensor& boxes,
                        at::ArrayRef<double> weights, double bbox_xform_clip) {
  ROISERVE_DISPATCH_CALL(decode_boxes, rel_codes, boxes, weights, bbox_xform_clip);
}

#undef ROISERVE_DISPATCH_CALL

TORCH_LIBRARY_IMPL(roiserve, CompositeImplicitAutograd, m) {
  m.impl("box_area", box_area_impl);
  m.impl("box_iou", box_iou_impl);
  m.impl("clip_boxes_to_image", clip_boxes_to_image_impl);
  m.impl("remove_small_boxes", remove_small_boxes_impl);
  m.impl("encode_boxes", encode_boxes_impl);
  m.impl("decode_boxes", decode_boxes_impl);
}

}  // namespace roiserve::ops
