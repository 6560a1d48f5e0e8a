// RoIPool on the CPU: channels-last max pooling over quantized bins.
// Channels-last input is pooled as it is, in parallel over RoIs; NCHW input a
// block of channels at a time (channel_blocks.h). Backward is parallel over
// channel blocks (see layout.h).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "ops/common/checks.h"
#include "ops/cpu/channel_blocks.h"
#include "ops/cpu/huge_pages.h"
#include "ops/cpu/layout.h"
#include "ops/cpu/max_pool.h"
#include "ops/cpu/reduced_float.h"
#include "ops/cpu/simd.h"
#include "ops/cpu/task_queue.h"

namespace roiserve::ops::cpu {

namespace {

constexpr const char* kForward = "roi_pool";
constexpr const char* kBackward = "roi_pool_backward";

// The geometry shared by both layouts' forward passes.
struct RoIPoolShape {
  int64_t batch_size, channels, height, width, pooled_height, pooled_width;
  int64_t bins() const { return pooled_height * pooled_width; }
};

// One RoI's bins along each axis.
struct RoIPoolBins {
  std::vector<BinRange> rows, cols;
};

// Channels-last features [N, H, W, C] -> channels-last outputs [K, bins, C],
// one RoI at a time (task_queue.h).
template <typename T>
void roi_pool_channels_last(const T* features, const T* rois, int64_t num_rois,
                            const RoIPoolShape& shape, T scale, T* out, int32_t* argmax) {
  const int64_t image_size = shape.height * shape.width * shape.channels;
  const int64_t roi_size = shape.bins() * shape.channels;
  drain_in_parallel(num_rois, [&](TaskQueue& tasks) {
    RoIPoolBins bins;
    for (int64_t k; tasks.take(k);) {
      const T* roi = rois + 5 * k;
      compute_max_pool_bins(roi, scale, shape.pooled_height, shape.pooled_width, shape.height,
                            shape.width, bins.rows, bins.cols);
      max_pool_roi(features + static_cast<int64_t>(roi[0]) * image_size, shape.width,
                   shape.channels, bins.rows, bins.cols, out + k * roi_size, argmax + k * roi_size);
    }
  });
}

// Channels [c_begin, c_end) of the RoIs [first, last) of one [C, H, W] image:
// copies the channels into `block` (channel_blocks.h), pools each RoI into
// bin-major tiles and transposes them into the RoI's [c_end - c_begin, bins]
// slices of the NCHW outputs, which are contiguous.
template <typename T>
ROISERVE_ALWAYS_INLINE void roi_pool_channel_block(const T* image, const RoIPoolShape& shape,
                                                   int64_t c_begin, int64_t c_end,
                                                   const int64_t* first, const int64_t* last,
                                                   const std::vector<RoIPoolBins>& roi_bins,
                                                   T* block, T* out, int32_t* argmax) {
  const int64_t block_width = c_end - c_begin;
  const int64_t bins = shape.bins();
  copy_channel_block(image, shape.height * shape.width, c_begin, c_end, block);
  std::vector<T> tile(bins * block_width);
  std::vector<int32_t> arg_tile(bins * block_width);
  for (const int64_t* k = first; k != last; ++k) {
    max_pool_roi(block, shape.width, block_width, roi_bins[*k].rows, roi_bins[*k].cols, tile.data(),
                 arg_tile.data());
    const int64_t offset = (*k * shape.channels + c_begin) * bins;
    transpose(tile.data(), bins, block_width, out + offset);
    transpose(arg_tile.data(), bins, block_width, argmax + offset);
  }
}

ROISERVE_CPU_CLONES void roi_pool_block(const float* image, const RoIPoolShape& shape,
                                        int64_t c_begin, int64_t c_end, const int64_t* first,
                                        const int64_t* last,
                                        const std::vector<RoIPoolBins>& roi_bins, float* block,
                                        float* out, int32_t* argmax) {
  roi_pool_channel_block(image, shape, c_begin, c_end, first, last, roi_bins, block, out, argmax);
}

ROISERVE_CPU_CLONES void roi_pool_block(const double* image, const RoIPoolShape& shape,
                                        int64_t c_begin, int64_t c_end, const int64_t* first,
                                        const int64_t* last,
                                        const std::vector<RoIPoolBins>& roi_bins, double* block,
                                        double* out, int32_t* argmax) {
  roi_pool_channel_block(image, shape, c_begin, c_end, first, last, roi_bins, block, out, argmax);
}

// NCHW features -> NCHW outputs [K, C, bins], one block of channels of one
// image at a time; each RoI's bins are computed once and used by every block.
template <typename T>
void roi_pool_nchw(const T* features, const T* rois, int64_t num_rois, const RoIPoolShape& shape,
                   T scale, T* out, int32_t* argmax) {
  std::vector<RoIPoolBins> roi_bins(num_rois);
  at::parallel_for(0, num_rois, 16, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      compute_max_pool_bins(rois + 5 * k, scale, shape.pooled_height, shape.pooled_width,
                            shape.height, shape.width, roi_bins[k].rows, roi_bins[k].cols);
    }
  });
  for_each_channel_block_of_images(
      features, rois, num_rois, shape.batch_size, shape.channels, shape.height * shape.width,
      [&](const T* image, int64_t c_begin, int64_t c_end, const int64_t* first, const int64_t* last,
          T* block) {
        roi_pool_block(image, shape, c_begin, c_end, first, last, roi_bins, block, out, argmax);
      });
}

// float32 or float64 arguments that roi_pool_forward_kernel checked.
std::tuple<at::Tensor, at::Tensor> roi_pool_forward_unchecked(const at::Tensor& input,
                                                              const at::Tensor& rois,
                                                              double spatial_scale,
                                                              int64_t pooled_height,
                                                              int64_t pooled_width) {
  const int64_t num_rois = rois.size(0);
  const RoIPoolShape shape{input.size(0), input.size(1), input.size(2),
                           input.size(3), pooled_height, pooled_width};
  const bool channels_last = is_channels_last(input);
  const auto format = channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  // Every element is written below (empty bins too): no zero fill.
  at::Tensor output =
      at::empty({num_rois, shape.channels, pooled_height, pooled_width}, input.options(), format);
  at::Tensor argmax = at::empty({num_rois, shape.channels, pooled_height, pooled_width},
                                input.options().dtype(at::kInt), format);
  if (output.numel() == 0) {
    return {output, argmax};
  }
  advise_huge_pages(output);
  advise_huge_pages(argmax);
  const at::Tensor features = input.contiguous(format);
  const at::Tensor boxes = rois.contiguous();

  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "roi_pool_forward", [&] {
    const auto scale = static_cast<scalar_t>(spatial_scale);
    (channels_last ? roi_pool_channels_last<scalar_t>
                   : roi_pool_nchw<scalar_t>)(features.data_ptr<scalar_t>(),
                                              boxes.data_ptr<scalar_t>(), num_rois, shape, scale,
                                              output.data_ptr<scalar_t>(),
                                              argmax.data_ptr<int32_t>());
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
