// Spatial pyramid pooling per RoI on the CPU: for every pyramid level L, the
// RoIPool of the RoI at L×L bins, written into that level's [C, L, L] block of
// the RoI's output row. Shares RoIPool's bins, pooling and backward.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "ops/common/checks.h"
#include "ops/cpu/layout.h"
#include "ops/cpu/max_pool.h"
#include "ops/cpu/reduced_float.h"

namespace roiserve::ops::cpu {

namespace {

constexpr const char* kForward = "spp_roi_pool";
constexpr const char* kBackward = "spp_roi_pool_backward";

// float32 or float64 arguments that spp_roi_pool_forward_kernel checked;
// pyramid: the bins per RoI over all levels.
std::tuple<at::Tensor, at::Tensor> spp_roi_pool_forward_unchecked(const at::Tensor& input,
                                                                  const at::Tensor& rois,
                                                                  double spatial_scale,
                                                                  at::IntArrayRef levels,
                                                                  int64_t pyramid) {
  const int64_t num_rois = rois.size(0);
  const int64_t channels = input.size(1);
  const int64_t height = input.size(2);
  const int64_t width = input.size(3);
  at::Tensor output = at::zeros({num_rois, channels * pyramid}, input.options());
  at::Tensor argmax = at::zeros({num_rois, channels * pyramid}, input.options().dtype(at::kInt));
  if (output.numel() == 0) {
    return {output, argmax};
  }
  const at::Tensor features = input.contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor boxes = rois.contiguous();
  int64_t largest = 0;
  for (const int64_t level : levels) {
    largest = std::max(largest, level * level);
  }

  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), kForward, [&] {
    const scalar_t* data = features.data_ptr<scalar_t>();
    const scalar_t* roi_data = boxes.data_ptr<scalar_t>();
    scalar_t* out = output.data_ptr<scalar_t>();
    int32_t* arg = argmax.data_ptr<int32_t>();
    const auto scale = static_cast<scalar_t>(spatial_scale);
    at::parallel_for(0, num_rois, 1, [&](int64_t begin, int64_t end) {
      std::vector<BinRange> rows, cols;
      std::vector<scalar_t> tile(largest * channels);
      std::vector<int32_t> arg_tile(largest * channels);
      for (int64_t k = begin; k < end; ++k) {
        const scalar_t* roi = roi_data + 5 * k;
        const scalar_t* image = data + static_cast<int64_t>(roi[0]) * height * width * channels;
        int64_t offset = k * channels * pyramid;
        for (const int64_t level : levels) {
          compute_max_pool_bins(roi, scale, level, level, height, width, rows, cols);
          max_pool_roi(image, width, channels, rows, cols, tile.data(), arg_tile.data());
          transpose_bins_to_channels(tile.data(), level * level, channels, out + offset);
          transpose_bins_to_channels(arg_tile.data(), level * level, channels, arg + offset);
          offset += channels * level * level;
        }
      }
    });
  });
  return {output, argmax};
}

std::tuple<at::Tensor, at::Tensor> spp_roi_pool_forward_kernel(const at::Tensor& input,
                                                               const at::Tensor& rois,
                                                               double spatial_scale,
                                                               at::IntArrayRef levels) {
  const int64_t pyramid = detail::check_pyramid_levels(kForward, levels);
  detail::check_pool_forward_args(kForward, input, rois, spatial_scale, 1, 1);
  return upcast_reduced_float(input.scalar_type(), spp_roi_pool_forward_unchecked, input, rois,
                              spatial_scale, levels, pyramid);
}

// float32 or float64 arguments that spp_roi_pool_backward_kernel checked.
at::Tensor spp_roi_pool_backward_unchecked(const at::Tensor& grad, const at::Tensor& rois,
                                           const at::Tensor& argmax, at::IntArrayRef levels,
                                           int64_t batch_size, int64_t channels, int64_t height,
                                           int64_t width) {
  at::Tensor grad_input = zeros_in_layout({batch_size, channels, height, width}, grad.options(),
                                          at::MemoryFormat::ChannelsLast);
  const int64_t num_rois = rois.size(0);
  if (num_rois > 0) {
    const at::Tensor boxes = rois.contiguous();
    int64_t offset = 0;
    for (const int64_t level : levels) {
      const int64_t span = channels * level * level;
      scatter_max_pool_grad(
          grad.narrow(1, offset, span).reshape({num_rois, channels, level * level}),
          argmax.narrow(1, offset, span).reshape({num_rois, channels, level * level}), boxes,
          grad_input);
      offset += span;
    }
  }
  return grad_input.contiguous();
}

at::Tensor spp_roi_pool_backward_kernel(const at::Tensor& grad, const at::Tensor& rois,
                                        const at::Tensor& argmax, double spatial_scale,
                                        at::IntArrayRef levels, int64_t batch_size,
                                        int64_t channels, int64_t height, int64_t width) {
  detail::check_spp_backward_args(kBackward, grad, rois, argmax, spatial_scale, levels, batch_size,
                                  channels, height, width);
  return upcast_reduced_float(grad.scalar_type(), spp_roi_pool_backward_unchecked, grad, rois,
                              argmax, levels, batch_size, channels, height, width);
}

}  // namespace

TORCH_LIBRARY_IMPL(roiserve, CPU, m) {
  m.impl("spp_roi_pool", spp_roi_pool_forward_kernel);
  m.impl("_spp_roi_pool_backward", spp_roi_pool_backward_kernel);
}

}  // namespace roiserve::ops::cpu
