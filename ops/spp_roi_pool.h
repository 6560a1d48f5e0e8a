#pragma once
// Spatial pyramid pooling per RoI (SPP-net): RoIPool at every level L×L of the
// pyramid, flattened per RoI and concatenated level by level. Output
// [K, C * sum(L*L)]; block of level L is laid out [C, L, L]. Returns
// (output, argmax) with argmax as in roi_pool.
#include <ATen/core/Tensor.h>

#include <tuple>

namespace torch {
class Library;
}  // namespace torch

namespace roiserve::ops {

std::tuple<at::Tensor, at::Tensor> spp_roi_pool(const at::Tensor& input, const at::Tensor& rois,
                                                double spatial_scale, at::IntArrayRef levels);

at::Tensor spp_roi_pool_backward(const at::Tensor& grad, const at::Tensor& rois,
                                 const at::Tensor& argmax, double spatial_scale,
                                 at::IntArrayRef levels, int64_t batch_size, int64_t channels,
                                 int64_t height, int64_t width);

// Defines spp_roi_pool and _spp_roi_pool_backward in m's namespace.
void define_spp_roi_pool_schemas(torch::Library& m);

}  // namespace roiserve::ops
