#pragma once
// Position-sensitive RoIAlign: ps_roi_pool's channel layout with RoIAlign's
// bilinear sampling (always half-pixel aligned). Returns (output, channel_mapping).
#include <ATen/core/Tensor.h>

#include <tuple>

namespace torch {
class Library;
}  // namespace torch

namespace roiserve::ops {

std::tuple<at::Tensor, at::Tensor> ps_roi_align(const at::Tensor& input, const at::Tensor& rois,
                                                double spatial_scale, int64_t pooled_height,
                                                int64_t pooled_width, int64_t sampling_ratio);

at::Tensor ps_roi_align_backward(const at::Tensor& grad, const at::Tensor& rois,
                                 const at::Tensor& channel_mapping, double spatial_scale,
                                 int64_t pooled_height, int64_t pooled_width,
                                 int64_t sampling_ratio, int64_t batch_size, int64_t channels,
                                 int64_t height, int64_t width);

// Defines ps_roi_align and _ps_roi_align_backward in m's namespace.
void define_ps_roi_align_schemas(torch::Library& m);

}  // namespace roiserve::ops
