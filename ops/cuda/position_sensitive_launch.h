#pragma once
// The launch steps PSRoIPool's and PSRoIAlign's launchers share: checks,
// allocations, layout, launch geometry and the choice of backward kernel. The
// op's launcher adds its own checks, dispatches on the dtype (the dispatch name
// must be a literal) and hands its Method (position_sensitive_blocks.h) over.
#include <ATen/ATen.h>

#include <tuple>

#include "ops/common/checks.h"
#include "ops/common/position_sensitive.h"
#include "ops/cuda/layout.h"
#include "ops/cuda/position_sensitive_blocks.h"

namespace roiserve::ops::cuda {

struct PositionSensitiveForwardLaunch {
  at::Tensor features;  // [N, C, H, W] in its own layout
  at::Tensor boxes;     // [K, 5] contiguous
  at::Tensor output, channel_mapping;
  PositionSensitiveShape shape;
  bool channels_last;
};

struct PositionSensitiveBackwardLaunch {
  at::Tensor grad;        // [K, C_out, PH, PW], any strides
  at::Tensor boxes;       // [K, 5] contiguous, K > 0
  at::Tensor grad_input;  // [N, C, H, W] contiguous, accumulation type, zeroed
  PositionSensitiveShape shape;
};

template <typename Backend, typename scalar_t, typename Method>
void launch_position_sensitive_forward(const PositionSensitiveForwardLaunch& launch,
                                       const Method& method) {
  const PositionSensitiveForward<scalar_t, Method> body{launch.features.data_ptr<scalar_t>(),
                                                        launch.boxes.data_ptr<scalar_t>(),
                                                        launch.output.data_ptr<scalar_t>(),
                                                        launch.channel_mapping.data_ptr<int32_t>(),
                                                        launch.shape,
                                                        method,
                                                        launch.channels_last};
  Backend::blocks(launch.boxes.size(0) * launch.shape.chunks(),
                  static_cast<int>(launch.shape.channel_chunk), Method::Table::kSharedBytes, body);
}

template <typename Backend, typename scalar_t, typename Method>
void launch_position_sensitive_backward(const PositionSensitiveBackwardLaunch& launch,
                                        const Method& method) {
  using acc_t = at::opmath_type<scalar_t>;
  const at::Tensor& grad = launch.grad;
  const PositionSensitiveGrad<scalar_t> grad_view{
      grad.data_ptr<scalar_t>(), {grad.stride(0), grad.stride(1), grad.stride(2), grad.stride(3)}};
  const scalar_t* rois = launch.boxes.data_ptr<scalar_t>();
  const int64_t num_rois = launch.boxes.size(0);
  acc_t* out = launch.grad_input.data_ptr<acc_t>();
  if (at::globalContext().deterministicAlgorithms()) {
    const PositionSensitiveBackwardDeterministic<scalar_t, Method> body{
        grad_view, rois, num_rois, out, launch.shape, method};
    Backend::elementwise(launch.grad_input.size(0) * launch.shape.channels, body);
  } else {
    const PositionSensitiveBackward<scalar_t, Method> body{grad_view, rois, out, launch.shape,
                                                           method};
    Backend::blocks(num_rois * launch.shape.chunks(), static_cast<int>(launch.shape.channel_chunk),
                    Method::Table::kSharedBytes, body);
  }
}

// check_rois() runs after the shortcut for empty maps, as on the CPU: an empty
// map takes any RoI. dispatch(launch) launches the op's forward.
template <typename Backend, typename CheckRois, typename Dispatch>
std::tuple<at::Tensor, at::Tensor> position_sensitive_forward(
    const char* op, const at::Tensor& input, const at::Tensor& rois, double spatial_scale,
    int64_t pooled_height, int64_t pooled_width, const CheckRois& check_rois,
    const Dispatch& dispatch) {
  detail::check_pool_forward_args(op, input, rois, spatial_scale, pooled_height, pooled_width);
  detail::check_position_sensitive_channels(op, input.size(1), pooled_height, pooled_width);
  [[maybe_unused]] const auto guard = Backend::device_guard(input);
  const int64_t num_rois = rois.size(0);
  const int64_t channels = input.size(1);
  const int64_t height = input.size(2);
  const int64_t width = input.size(3);
  const int64_t channels_out = channels / (pooled_height * pooled_width);
  if (num_rois == 0 || channels == 0 || height == 0 || width == 0) {
    return {at::zeros({num_rois, channels_out, pooled_height, pooled_width}, input.options()),
            position_sensitive_channel_mapping(num_rois, channels, pooled_height, pooled_width,
                                               input.options())};
  }
  check_rois();
  // The output is contiguous whatever the input's layout, as on the CPU; the
  // input is read in its own layout, which costs less than a copy would.
  at::Tensor output =
      at::empty({num_rois, channels_out, pooled_height, pooled_width}, input.options());
  at::Tensor mapping = at::empty_like(output, output.options().dtype(at::kInt));
  const bool channels_last = is_channels_last(input);
  dispatch(PositionSensitiveForwardLaunch{
      input.contiguous(memory_format(channels_last)), rois.contiguous(), output, mapping,
      position_sensitive_shape(channels, height, width, pooled_height, pooled_width),
      channels_last});
  return {output, mapping};
}

// check_rois() runs after the argument checks; dispatch(launch) launches the
// op's backward when there are RoIs.
template <typename Backend, typename CheckRois, typename Dispatch>
at::Tensor position_sensitive_backward(const char* op, const at::Tensor& grad,
                                       const at::Tensor& rois, const at::Tensor& channel_mapping,
                                       double spatial_scale, int64_t pooled_height,
                                       int64_t pooled_width, int64_t batch_size, int64_t channels,
                                       int64_t height, int64_t width, const CheckRois& check_rois,
                                       const Dispatch& dispatch) {
  detail::check_position_sensitive_backward_args(op, grad, rois, channel_mapping, spatial_scale,
                                                 pooled_height, pooled_width, batch_size, channels,
                                                 height, width);
  check_rois();
  [[maybe_unused]] const auto guard = Backend::device_guard(grad);
  // Sums in the accumulation type (float for float16 and bfloat16), rounded once.
  at::Tensor grad_input = at::zeros({batch_size, channels, height, width},
                                    grad.options().dtype(accumulation_type(grad.scalar_type())));
  if (rois.size(0) > 0) {
    dispatch(PositionSensitiveBackwardLaunch{
        grad, rois.contiguous(), grad_input,
        position_sensitive_shape(channels, height, width, pooled_height, pooled_width)});
  }
  return grad_input.to(grad.scalar_type());
}

}  // namespace roiserve::ops::cuda
