#pragma once
// PSRoIPool's launchers, written once for the GPU (ps_roi_pool.cu) and for its
// host emulation (host/): the same checks, allocations, launch geometry and
// kernel bodies on both.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>

#include <tuple>

#include "ops/cuda/position_sensitive_launch.h"
#include "ops/cuda/ps_roi_pool_kernels.h"

namespace roiserve::ops::cuda {

template <typename Backend>
std::tuple<at::Tensor, at::Tensor> ps_roi_pool_forward(const at::Tensor& input,
                                                       const at::Tensor& rois, double spatial_scale,
                                                       int64_t pooled_height,
                                                       int64_t pooled_width) {
  return position_sensitive_forward<Backend>(
      "ps_roi_pool", input, rois, spatial_scale, pooled_height, pooled_width, [] {},
      [&](const PositionSensitiveForwardLaunch& launch) {
        AT_DISPATCH_FLOATING_TYPES_AND2(
            at::kHalf, at::kBFloat16, input.scalar_type(), "ps_roi_pool", [&] {
              using acc_t = at::opmath_type<scalar_t>;
              launch_position_sensitive_forward<Backend, scalar_t>(
                  launch, PSRoIPoolMethod<acc_t>{static_cast<acc_t>(spatial_scale)});
            });
      });
}

template <typename Backend>
at::Tensor ps_roi_pool_backward(const at::Tensor& grad, const at::Tensor& rois,
                                const at::Tensor& channel_mapping, double spatial_scale,
                                int64_t pooled_height, int64_t pooled_width, int64_t batch_size,
                                int64_t channels, int64_t height, int64_t width) {
  return position_sensitive_backward<Backend>(
      "ps_roi_pool_backward", grad, rois, channel_mapping, spatial_scale, pooled_height,
      pooled_width, batch_size, channels, height, width, [] {},
      [&](const PositionSensitiveBackwardLaunch& launch) {
        AT_DISPATCH_FLOATING_TYPES_AND2(
            at::kHalf, at::kBFloat16, grad.scalar_type(), "ps_roi_pool_backward", [&] {
              using acc_t = at::opmath_type<scalar_t>;
              launch_position_sensitive_backward<Backend, scalar_t>(
                  launch, PSRoIPoolMethod<acc_t>{static_cast<acc_t>(spatial_scale)});
            });
      });
}

}  // namespace roiserve::ops::cuda
