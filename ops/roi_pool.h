#pragma once
// RoIPool (Fast R-CNN): max pooling over quantized bins. Returns (output, argmax),
// argmax being the flat h*W+w index of each maximum (-1 for an empty bin).
#include <ATen/core/Tensor.h>

#include <tuple>

namespace torch {
class Library;
}  // namespace torch

namespace roiserve::ops {

std::tuple<at::Tensor, at::Tensor> roi_pool(const at::Tensor& input, const at::Tensor& rois,
                                            double spatial_scale, int64_t pooled_height,
                                            int64_t pooled_width);

at::Tensor roi_pool_backward(const at::Tensor& grad, const at::Tensor& rois,
                             const at::Tensor& argmax, double spatial_scale, int64_t pooled_height,
                             int64_t pooled_width, int64_t batch_size, int64_t channels,
                             int64_t height, int64_t width);

// Defines roi_pool and _roi_pool_backward in m's namespace.
void define_roi_pool_schemas(torch::Library& m);

}  // namespace roiserve::ops
