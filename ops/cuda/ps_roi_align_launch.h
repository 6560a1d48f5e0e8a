#pragma once
// PSRoIAlign's launchers, written once for the GPU (ps_roi_align.cu) and for
// its host emulation (host/): the same checks, allocations, launch geometry
// and kernel bodies on both.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>

#include <tuple>

#include "ops/common/sampling_checks.h"
#include "ops/cuda/position_sensitive_launch.h"
#include "ops/cuda/ps_roi_align_kernels.h"

namespace roiserve::ops::cuda {

// Always half-pixel aligned, never forced to 1×1.
inline void check_ps_roi_align_sampling(const char* op, const at::Tensor& rois,
                                        double spatial_scale, int64_t pooled_height,
                                        int64_t pooled_width, int64_t sampling_ratio) {
  detail::check_adaptive_sampling(op, rois, spatial_scale, 0.5, false, pooled_height, pooled_width,
                                  sampling_ratio);
}

template <typename Backend>
std::tuple<at::Tensor, at::Tensor> ps_roi_align_forward(const at::Tensor& input,
                                                        const at::Tensor& rois,
                                                        double spatial_scale, int64_t pooled_height,
                                                        int64_t pooled_width,
                                                        int64_t sampling_ratio) {
  const char* op = "ps_roi_align";
  return position_sensitive_forward<Backend>(
      op, input, rois, spatial_scale, pooled_height, pooled_width,
      [&] {
        check_ps_roi_align_sampling(op, rois, spatial_scale, pooled_height, pooled_width,
                                    sampling_ratio);
      },
      [&](const PositionSensitiveForwardLaunch& launch) {
        AT_DISPATCH_FLOATING_TYPES_AND2(
            at::kHalf, at::kBFloat16, input.scalar_type(), "ps_roi_align", [&] {
              using acc_t = at::opmath_type<scalar_t>;
              launch_position_sensitive_forward<Backend, scalar_t>(
                  launch,
                  PSRoIAlignMethod<acc_t>{static_cast<acc_t>(spatial_scale), sampling_ratio});
            });
      });
}

template <typename Backend>
at::Tensor ps_roi_align_backward(const at::Tensor& grad, const at::Tensor& rois,
                                 const at::Tensor& channel_mapping, double spatial_scale,
                                 int64_t pooled_height, int64_t pooled_width,
                                 int64_t sampling_ratio, int64_t batch_size, int64_t channels,
                                 int64_t height, int64_t width) {
  const char* op = "ps_roi_align_backward";
  return position_sensitive_backward<Backend>(
      op, grad, rois, channel_mapping, spatial_scale, pooled_height, pooled_width, batch_size,
      channels, height, width,
      [&] {
        check_ps_roi_align_sampling(op, rois, spatial_scale, pooled_height, pooled_width,
                                    sampling_ratio);
      },
      [&](const PositionSensitiveBackwardLaunch& launch) {
        AT_DISPATCH_FLOATING_TYPES_AND2(
            at::kHalf, at::kBFloat16, grad.scalar_type(), "ps_roi_align_backward", [&] {
              using acc_t = at::opmath_type<scalar_t>;
              launch_position_sensitive_backward<Backend, scalar_t>(
                  launch,
                  PSRoIAlignMethod<acc_t>{static_cast<acc_t>(spatial_scale), sampling_ratio});
            });
      });
}

}  // namespace roiserve::ops::cuda
