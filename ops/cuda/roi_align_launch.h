#pragma once
// RoIAlign's launchers, written once for the GPU (roi_align.cu) and for its
// host emulation (host/): the same checks, allocations, launch geometry and
// kernel bodies on both.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>

#include "ops/common/checks.h"
#include "ops/common/sampling_checks.h"
#include "ops/cuda/layout.h"
#include "ops/cuda/roi_align_kernels.h"

namespace roiserve::ops::cuda {

template <typename acc_t>
RoIAlignShape<acc_t> roi_align_shape(int64_t channels, int64_t height, int64_t width,
                                     int64_t pooled_height, int64_t pooled_width,
                                     int64_t sampling_ratio, double spatial_scale, bool aligned) {
  return {channels,
          height,
          width,
          pooled_height,
          pooled_width,
          sampling_ratio,
          std::min(channels, kRoIAlignChannelChunk),
          static_cast<acc_t>(spatial_scale),
          aligned};
}

template <typename Backend>
at::Tensor roi_align_forward(const at::Tensor& input, const at::Tensor& rois, double spatial_scale,
                             int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio,
                             bool aligned) {
  const char* op = "roi_align";
  detail::check_pool_forward_args(op, input, rois, spatial_scale, pooled_height, pooled_width);
  detail::check_adaptive_sampling(op, rois, spatial_scale, aligned ? 0.5 : 0.0, !aligned,
                                  pooled_height, pooled_width, sampling_ratio);
  [[maybe_unused]] const auto guard = Backend::device_guard(input);
  const int64_t num_rois = rois.size(0);
  const int64_t channels = input.size(1);
  const int64_t height = input.size(2);
  const int64_t width = input.size(3);
  const bool channels_last = is_channels_last(input);
  at::Tensor output = at::empty({num_rois, channels, pooled_height, pooled_width}, input.options(),
                                memory_format(channels_last));
  if (output.numel() == 0 || height == 0 || width == 0) {
    return output.zero_();
  }
  const at::Tensor features = input.contiguous(memory_format(channels_last));
  const at::Tensor boxes = rois.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "roi_align", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const RoIAlignForward<scalar_t> body{
        features.data_ptr<scalar_t>(), boxes.data_ptr<scalar_t>(), output.data_ptr<scalar_t>(),
        roi_align_shape<acc_t>(channels, height, width, pooled_height, pooled_width, sampling_ratio,
                               spatial_scale, aligned),
        channels_last};
    Backend::blocks(num_rois * body.shape.chunks(), kRoIAlignThreads,
                    SampleTable<acc_t>::kSharedBytes, body);
  });
  return output;
}

template <typename Backend>
at::Tensor roi_align_backward(const at::Tensor& grad, const at::Tensor& rois, double spatial_scale,
                              int64_t pooled_height, int64_t pooled_width, int64_t batch_size,
                              int64_t channels, int64_t height, int64_t width,
                              int64_t sampling_ratio, bool aligned) {
  const char* op = "roi_align_backward";
  detail::check_pool_backward_args(op, grad, rois, spatial_scale, channels, pooled_height,
                                   pooled_width, batch_size, channels, height, width);
  detail::check_adaptive_sampling(op, rois, spatial_scale, aligned ? 0.5 : 0.0, !aligned,
                                  pooled_height, pooled_width, sampling_ratio);
  [[maybe_unused]] const auto guard = Backend::device_guard(grad);
  const bool channels_last = is_channels_last(grad);
  // Sums in the accumulation type (float for float16 and bfloat16), rounded once.
  at::Tensor grad_input = zeros_in_layout(
      {batch_size, channels, height, width},
      grad.options().dtype(accumulation_type(grad.scalar_type())), memory_format(channels_last));
  const int64_t num_rois = rois.size(0);
  if (num_rois > 0) {
    const at::Tensor boxes = rois.contiguous();
    const bool deterministic = at::globalContext().deterministicAlgorithms();
    AT_DISPATCH_FLOATING_TYPES_AND2(
        at::kHalf, at::kBFloat16, grad.scalar_type(), "roi_align_backward", [&] {
          using acc_t = at::opmath_type<scalar_t>;
          const auto shape =
              roi_align_shape<acc_t>(channels, height, width, pooled_height, pooled_width,
                                     sampling_ratio, spatial_scale, aligned);
          const scalar_t* grad_data = grad.data_ptr<scalar_t>();
          const scalar_t* roi_data = boxes.data_ptr<scalar_t>();
          acc_t* out = grad_input.data_ptr<acc_t>();
          if (deterministic) {
            const RoIAlignBackwardDeterministic<scalar_t> body{
                grad_data,    {grad.stride(0), grad.stride(1), grad.stride(2), grad.stride(3)},
                roi_data,     num_rois,
                out,          shape,
                channels_last};
            Backend::elementwise(batch_size * channels, body);
          } else {
            const RoIAlignBackward<scalar_t> body{
                grad_data, {grad.stride(0), grad.stride(1), grad.stride(2), grad.stride(3)},
                roi_data,  out,
                shape,     channels_last};
            Backend::blocks(num_rois * shape.chunks(), kRoIAlignThreads,
                            SampleTable<acc_t>::kSharedBytes, body);
          }
        });
  }
  return grad_input.to(grad.scalar_type());
}

}  // namespace roiserve::ops::cuda
