#pragma once
// Position-sensitive RoIPool (R-FCN): average pooling where output channel c of
// bin (i, j) reads input channel (c * pooled_height + i) * pooled_width + j.
// Returns (output, channel_mapping).
#include <ATen/core/Tensor.h>

#include <tuple>

namespace torch {
class Library;
}  // namespace torch

namespace roiserve::ops {

std::tuple<at::Tensor, at::Tensor> ps_roi_pool(const at::Tensor& input, const at::Tensor& rois,
                                               double spatial_scale, int64_t pooled_height,
                                               int64_t pooled_width);

at::Tensor ps_roi_pool_backward(const at::Tensor& grad, const at::Tensor& rois,
                                const at::Tensor& channel_mapping, double spatial_scale,
                                int64_t pooled_height, int64_t pooled_width, int64_t batch_size,
                                int64_t channels, int64_t height, int64_t width);

// Defines ps_roi_pool and _ps_roi_pool_backward in m's namespace.
void define_ps_roi_pool_schemas(torch::Library& m);

}  // namespace roiserve::ops
