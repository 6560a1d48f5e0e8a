#pragma once
// RoIAlign (Mask R-CNN): bilinear sampling averaged over each output bin.
#include <ATen/core/Tensor.h>

namespace torch {
class Library;
}  // namespace torch

namespace roiserve::ops {

at::Tensor roi_align(const at::Tensor& input, const at::Tensor& rois, double spatial_scale,
                     int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio,
                     bool aligned);

at::Tensor roi_align_backward(const at::Tensor& grad, const at::Tensor& rois, double spatial_scale,
                              int64_t pooled_height, int64_t pooled_width, int64_t batch_size,
                              int64_t channels, int64_t height, int64_t width,
                              int64_t sampling_ratio, bool aligned);

// Defines roi_align and _roi_align_backward in m's namespace.
void define_roi_align_schemas(torch::Library& m);

}  // namespace roiserve::ops
