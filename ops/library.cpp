// The roiserve operator library: every schema in one place. Kernels register
// themselves per dispatch key (cpu/, cuda/, autograd/) and nothing else knows
// they exist. The pooling and nms forward/backward schemas are exactly
// torchvision 0.14's, so roiserve ops are drop-in replacements.
#include <torch/library.h>

TORCH_LIBRARY(roiserve, m) {
  m.def(
      "roi_align(Tensor input, Tensor rois, float spatial_scale, int pooled_height, "
      "int pooled_width, int sampling_ratio, bool aligned) -> Tensor");
  m.def(
      "_roi_align_backward(Tensor grad, Tensor rois, float spatial_scale, int pooled_height, "
      "int pooled_width, int batch_size, int channels, int height, int width, "
      "int sampling_ratio, bool aligned) -> Tensor");
  m.def(
      "roi_pool(Tensor input, Tensor rois, float spatial_scale, int pooled_height, "
      "int pooled_width) -> (Tensor, Tensor)");
  m.def(
      "_roi_pool_backward(Tensor grad, Tensor rois, Tensor argmax, float spatial_scale, "
      "int pooled_height, int pooled_width, int batch_size, int channels, int height, "
      "int width) -> Tensor");
  m.def(
      "ps_roi_pool(Tensor input, Tensor rois, float spatial_scale, int pooled_height, "
      "int pooled_width) -> (Tensor, Tensor)");
  m.def(
      "_ps_roi_pool_backward(Tensor grad, Tensor rois, Tensor channel_mapping, "
      "float spatial_scale, int pooled_height, int pooled_width, int batch_size, "
      "int channels, int height, int width) -> Tensor");
  m.def(
      "ps_roi_align(Tensor input, Tensor rois, float spatial_scale, int pooled_height, "
      "int pooled_width, int sampling_ratio) -> (Tensor, Tensor)");
  m.def(
      "_ps_roi_align_backward(Tensor grad, Tensor rois, Tensor channel_mapping, "
      "float spatial_scale, int pooled_height, int pooled_width, int sampling_ratio, "
      "int batch_size, int channels, int height, int width) -> Tensor");
  m.def("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor");

  // Beyond torchvision.
  m.def(
      "spp_roi_pool(Tensor input, Tensor rois, float spatial_scale, int[] levels) "
      "-> (Tensor, Tensor)");
  m.def(
      "_spp_roi_pool_backward(Tensor grad, Tensor rois, Tensor argmax, float spatial_scale, "
      "int[] levels, int batch_size, int channels, int height, int width) -> Tensor");
  m.def("batched_nms(Tensor boxes, Tensor scores, Tensor idxs, float iou_threshold) -> Tensor");
  m.def("box_area(Tensor boxes) -> Tensor");
  m.def("box_iou(Tensor boxes1, Tensor boxes2) -> Tensor");
  m.def("clip_boxes_to_image(Tensor boxes, int height, int width) -> Tensor");
  m.def("remove_small_boxes(Tensor boxes, float min_size) -> Tensor");
  m.def("encode_boxes(Tensor reference_boxes, Tensor proposals, float[] weights) -> Tensor");
  m.def(
      "decode_boxes(Tensor rel_codes, Tensor boxes, float[] weights, float bbox_xform_clip) "
      "-> Tensor");
}
