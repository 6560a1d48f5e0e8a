// RoIPool on the CPU: channels-last max pooling over quantized bins,
// parallel over RoIs; backward parallel over channel blocks (see layout.h).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "ops/common/checks.h"
#include "ops/cpu/layout.h"
#include "ops/cpu/max_pool.h"
#include "ops/cpu/reduced_float.h"

namespace roiserve::ops::cpu {

namespace {

constexpr const char* kForward = "roi_pool";
constexpr const char* kBackward = "roi_pool_backward";

// float32 or float64 arguments that roi_pool_forward_kernel checked.
std::tuple<at::Tensor, at::Tensor> roi_pool_forward_unchecked(const at::Tensor& input,
                                                              const at::Tensor& rois,
                                                              double spatial_scale,
                                                              int64_t pooled_height,
                                                              int64_t pooled_width) {
  const int64_t num_rois = rois.size(0);
  const int64_t channels = input.size(1);
  const int64_t height = input.size(2);
  const int64_t width = input.size(3);
  const bool channels_last = is_channels_last(input);
  const auto format = channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  // Every element is written below (empty bins too): no zero fill.
  at::Tensor output =
      at::empty({num_rois, channels, pooled_height, pooled_width}, input.options(), format);
  at::Tensor argmax = at::empty({num_rois, channels, pooled_height, pooled_width},
                                input.options().dtype(at::kInt), format);
  if (output.numel() == 0) {
    return {output, argmax};
  }
  const at::Tensor features = input.contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor boxes = rois.contiguous();
  const int64_t bins = pooled_height * pooled_width;

  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "roi_pool_forward", [&] {
    const scalar_t* data = features.data_ptr<scalar_t>();
    const scalar_t* roi_data = boxes.data_ptr<scalar_t>();
    scalar_t* out = output.data_ptr<scalar_t>();
    int32_t* arg = argmax.data_ptr<int32_t>();
    const auto scale = static_cast<scalar_t>(spatial_scale);
    at::parallel_for(0, num_rois, 1, [&](int64_t begin, int64_t end) {
      std::vector<BinRange> rows, cols;
      std::vector<scalar_t> tile(channels_last ? 0 : bins * channels);
      std::vector<int32_t> arg_tile(channels_last ? 0 : bins * channels);
      for (int64_t k = begin; k < end; ++k) {
        const scalar_t* roi = roi_data + 5 * k;
        compute_max_pool_bins(roi, scale, pooled_height, pooled_width, height, width, rows, cols);
        const scalar_t* image = data + static_cast<int64_t>(roi[0]) * height * width * channels;
        scalar_t* roi_out = out + k * bins * channels;
        int32_t* roi_arg = arg + k * bins * channels;
        if (channels_last) {
          max_pool_roi(image, width, channels, rows, cols, roi_out, roi_arg);
        } else {
          max_pool_roi(image, width, channels, rows, cols, tile.data(), arg_tile.data());
          transpose_bins_to_channels(tile.data(), bins, channels, roi_out);
          transpose_bins_to_channels(arg_tile.data(), bins, channels, roi_arg);
        }
      }
    });
  });
  return {output, argmax};
}

std::tuple<at::Tensor, at::Tensor> roi_pool_forward_kernel(const at::Tensor& input,
                                                           const at::Tensor& rois,
                                                           double spatial_scale,
                                                           int64_t pooled_height,
                                                           int64_t pooled_width) {
  detail::check_pool_forward_args(kForward, input, rois, spatial_scale, pooled_height,
                                  pooled_width);
  return upcast_reduced_float(input.scalar_type(), roi_pool_forward_unchecked, input, rois,
                              spatial_scale, pooled_height, pooled_width);
}

// float32 or float64 arguments that roi_pool_backward_kernel checked.
at::Tensor roi_pool_backward_unchecked(const at::Tensor& grad, const at::Tensor& rois,
                                       const at::Tensor& argmax, int64_t pooled_height,
                                       int64_t pooled_width, int64_t batch_size, int64_t channels,
                                       int64_t height, int64_t width) {
  at::Tensor grad_input = zeros_in_layout({batch_size, channels, height, width}, grad.options(),
                                          at::MemoryFormat::ChannelsLast);
  const int64_t num_rois = rois.size(0);
  if (num_rois > 0) {
    const int64_t bins = pooled_height * pooled_width;
    scatter_max_pool_grad(grad.reshape({num_rois, channels, bins}),
                          argmax.reshape({num_rois, channels, bins}), rois.contiguous(),
                          grad_input);
  }
  return restore_layout(grad_input, grad);
}

at::Tensor roi_pool_backward_kernel(const at::Tensor& grad, const at::Tensor& rois,
                                    const at::Tensor& argmax, double spatial_scale,
                                    int64_t pooled_height, int64_t pooled_width, int64_t batch_size,
                                    int64_t channels, int64_t height, int64_t width) {
  detail::check_pool_backward_args(kBackward, grad, rois, spatial_scale, channels, pooled_height,
                                   pooled_width, batch_size, channels, height, width);
  detail::check_index_tensor(kBackward, "argmax", argmax, grad.sizes(), -1, height * width - 1);
  return upcast_reduced_float(grad.scalar_type(), roi_pool_backward_unchecked, grad, rois, argmax,
                              pooled_height, pooled_width, batch_size, channels, height, width);
}

}  // namespace

TORCH_LIBRARY_IMPL(roiserve, CPU, m) {
  m.impl("roi_pool", roi_pool_forward_kernel);
  m.impl("_roi_pool_backward", roi_pool_backward_kernel);
}

}  // namespace roiserve::ops::cpu
