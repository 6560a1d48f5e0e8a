#pragma once
// RoIPool's launchers, written once for the GPU (roi_pool.cu) and for its host
// emulation (host/): the same checks, allocations, launch geometry and kernel
// bodies on both.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>

#include <tuple>

#include "ops/common/checks.h"
#include "ops/cuda/layout.h"
#include "ops/cuda/max_pool_launch.h"

namespace roiserve::ops::cuda {

template <typename Backend>
std::tuple<at::Tensor, at::Tensor> roi_pool_forward(const at::Tensor& input, const at::Tensor& rois,
                                                    double spatial_scale, int64_t pooled_height,
                                                    int64_t pooled_width) {
  detail::check_pool_forward_args("roi_pool", input, rois, spatial_scale, pooled_height,
                                  pooled_width);
  [[maybe_unused]] const auto guard = Backend::device_guard(input);
  const bool channels_last = is_channels_last(input);
  const std::vector<int64_t> sizes = {rois.size(0), input.size(1), pooled_height, pooled_width};
  // Every element is written below (empty bins too): no zero fill.
  at::Tensor output = at::empty(sizes, input.options(), memory_format(channels_last));
  at::Tensor argmax =
      at::empty(sizes, input.options().dtype(at::kInt), memory_format(channels_last));
  if (output.numel() == 0) {
    return {output, argmax};
  }
  const at::Tensor features = input.contiguous(memory_format(channels_last));
  const at::Tensor boxes = rois.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "roi_pool", [&] {
    launch_max_pool_forward<Backend, scalar_t>(features, boxes, spatial_scale, channels_last,
                                               output, argmax);
  });
  return {output, argmax};
}

template <typename Backend>
at::Tensor roi_pool_backward(const at::Tensor& grad, const at::Tensor& rois,
                             const at::Tensor& argmax, double spatial_scale, int64_t pooled_height,
                             int64_t pooled_width, int64_t batch_size, int64_t channels,
                             int64_t height, int64_t width) {
  const char* op = "roi_pool_backward";
  detail::check_pool_backward_args(op, grad, rois, spatial_scale, channels, pooled_height,
                                   pooled_width, batch_size, channels, height, width);
  detail::check_index_tensor(op, "argmax", argmax, grad.sizes(), -1, height * width - 1);
  check_argmax_device(op, argmax, grad);
  [[maybe_unused]] const auto guard = Backend::device_guard(grad);
  // In the incoming gradient's layout, as the CPU kernel returns it; summed in
  // the accumulation type (float for float16 and bfloat16), rounded once.
  const bool channels_last = is_channels_last(grad);
  at::Tensor grad_input = zeros_in_layout(
      {batch_size, channels, height, width},
      grad.options().dtype(accumulation_type(grad.scalar_type())), memory_format(channels_last));
  if (rois.size(0) > 0) {
    const at::Tensor boxes = rois.contiguous();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(),
                                    "roi_pool_backward", [&] {
                                      launch_max_pool_backward<Backend, scalar_t>(
                                          grad, argmax, boxes, channels_last, grad_input);
                                    });
  }
  return grad_input.to(grad.scalar_type());
}

}  // namespace roiserve::ops::cuda
