#pragma once
// Spatial pyramid pooling's launchers, written once for the GPU
// (spp_roi_pool.cu) and for its host emulation (host/). Each pyramid level is
// RoIPool at L×L bins, launched into that level's [C, L, L] block of every
// output row: one launch per level, since each has K × channel-chunk blocks,
// enough to fill the GPU alone, and pyramids have a handful of levels.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>

#include <tuple>

#include "ops/common/checks.h"
#include "ops/cuda/layout.h"
#include "ops/cuda/max_pool_launch.h"

namespace roiserve::ops::cuda {

// Level L's [K, C, L, L] view of a [K, C * bins] SPP output, gradient or
// argmax whose earlier levels take `offset` columns.
inline at::Tensor pyramid_level(const at::Tensor& t, int64_t offset, int64_t channels,
                                int64_t level) {
  return t.narrow(1, offset, channels * level * level).view({t.size(0), channels, level, level});
}

template <typename Backend>
std::tuple<at::Tensor, at::Tensor> spp_roi_pool_forward(const at::Tensor& input,
                                                        const at::Tensor& rois,
                                                        double spatial_scale,
                                                        at::IntArrayRef levels) {
  const char* op = "spp_roi_pool";
  const int64_t pyramid = detail::check_pyramid_levels(op, levels);
  detail::check_pool_forward_args(op, input, rois, spatial_scale, 1, 1);
  [[maybe_unused]] const auto guard = Backend::device_guard(input);
  const int64_t channels = input.size(1);
  // Every element is written below (empty bins too): no zero fill.
  at::Tensor output = at::empty({rois.size(0), channels * pyramid}, input.options());
  at::Tensor argmax = at::empty_like(output, output.options().dtype(at::kInt));
  if (output.numel() == 0) {
    return {output, argmax};
  }
  const bool channels_last = is_channels_last(input);
  const at::Tensor features = input.contiguous(memory_format(channels_last));
  const at::Tensor boxes = rois.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "spp_roi_pool",
                                  [&] {
                                    int64_t offset = 0;
                                    for (const int64_t level : levels) {
                                      launch_max_pool_forward<Backend, scalar_t>(
                                          features, boxes, spatial_scale, channels_last,
                                          pyramid_level(output, offset, channels, level),
                                          pyramid_level(argmax, offset, channels, level));
                                      offset += channels * level * level;
                                    }
                                  });
  return {output, argmax};
}

template <typename Backend>
at::Tensor spp_roi_pool_backward(const at::Tensor& grad, const at::Tensor& rois,
                                 const at::Tensor& argmax, double spatial_scale,
                                 at::IntArrayRef levels, int64_t batch_size, int64_t channels,
                                 int64_t height, int64_t width) {
  const char* op = "spp_roi_pool_backward";
  detail::check_spp_backward_args(op, grad, rois, argmax, spatial_scale, levels, batch_size,
                                  channels, height, width);
  check_argmax_device(op, argmax, grad);
  [[maybe_unused]] const auto guard = Backend::device_guard(grad);
  // Contiguous, as the CPU kernel returns it; summed in the accumulation type
  // (float for float16 and bfloat16), rounded once. Level after level, as on
  // the CPU, so that the deterministic sums are the CPU kernel's.
  at::Tensor grad_input = at::zeros({batch_size, channels, height, width},
                                    grad.options().dtype(accumulation_type(grad.scalar_type())));
  if (rois.size(0) > 0) {
    const at::Tensor boxes = rois.contiguous();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(),
                                    "spp_roi_pool_backward", [&] {
                                      int64_t offset = 0;
                                      for (const int64_t level : levels) {
                                        launch_max_pool_backward<Backend, scalar_t>(
                                            pyramid_level(grad, offset, channels, level),
                                            pyramid_level(argmax, offset, channels, level), boxes,
                                            /*channels_last=*/false, grad_input);
                                        offset += channels * level * level;
                                      }
                                    });
  }
  return grad_input.to(grad.scalar_type());
}

}  // namespace roiserve::ops::cuda
