// RoIAlign on the CPU. The features are read channels-last (NHWC), so each
// bilinear tap is a contiguous run over channels that every SIMD width
// vectorizes; sample positions and weights are computed once per RoI and shared
// by all channels. Channels-last input is pooled as it is, in parallel over
// RoIs; NCHW input a block of channels at a time (channel_blocks.h). Backward
// parallelizes over channel blocks, so that no two threads ever add into the
// same gradient element and the result does not depend on the thread count.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cstring>

#include "ops/common/checks.h"
#include "ops/cpu/channel_blocks.h"
#include "ops/cpu/huge_pages.h"
#include "ops/cpu/layout.h"
#include "ops/cpu/reduced_float.h"
#include "ops/cpu/sampling.h"
#include "ops/cpu/simd.h"
#include "ops/cpu/task_queue.h"

namespace roiserve::ops::cpu {

namespace {

constexpr const char* kForward = "roi_align";
constexpr const char* kBackward = "roi_align_backward";

// One bin of one RoI over channels [0, width_used), any width: the average of
// the bin's bilinear samples.
template <typename T, int64_t kWidth>
ROISERVE_ALWAYS_INLINE void roi_align_bin(const T* __restrict image, int64_t width,
                                          int64_t channels, const SampleGrid<T>& grid, int64_t ph,
                                          int64_t pw, int64_t width_used, T* __restrict out) {
  T acc[kWidth] = {};
  const int64_t pixel_row = width * channels;
  for_each_sample(grid.ys.data() + ph * grid.grid_h, grid.grid_h, grid.xs.data() + pw * grid.grid_w,
                  grid.grid_w, [&](const BilinearSample<T>& s) {
                    const T* __restrict v1 = image + s.y_low * pixel_row + s.x_low * channels;
                    const T* __restrict v2 = image + s.y_low * pixel_row + s.x_high * channels;
                    const T* __restrict v3 = image + s.y_high * pixel_row + s.x_low * channels;
                    const T* __restrict v4 = image + s.y_high * pixel_row + s.x_high * channels;
                    for (int64_t c = 0; c < width_used; ++c) {
                      acc[c] += s.w1 * v1[c] + s.w2 * v2[c] + s.w3 * v3[c] + s.w4 * v4[c];
                    }
                  });
  for (int64_t c = 0; c < width_used; ++c) {
    out[c] = acc[c] / grid.count;
  }
}

// The same over exactly kWidth channels (whole cache lines), with the sums in
// vector registers across the samples (LineLanes, simd.h); each lane computes
// the scalar expression above, in the same order.
template <typename T, int64_t kWidth>
ROISERVE_ALWAYS_INLINE void roi_align_full_bin(const T* __restrict image, int64_t width,
                                               int64_t channels, const SampleGrid<T>& grid,
                                               int64_t ph, int64_t pw, T* __restrict out) {
  using Vector = typename LineLanes<T>::Vector;
  constexpr int64_t kLanes = sizeof(Vector) / sizeof(T);
  constexpr int64_t kVectors = kWidth / kLanes;
  static_assert(kWidth % kLanes == 0);
  Vector acc[kVectors] = {};
  const int64_t pixel_row = width * channels;
  for_each_sample(grid.ys.data() + ph * grid.grid_h, grid.grid_h, grid.xs.data() + pw * grid.grid_w,
                  grid.grid_w, [&](const BilinearSample<T>& s) {
                    const T* __restrict taps[4] = {
                        image + s.y_low * pixel_row + s.x_low * channels,
                        image + s.y_low * pixel_row + s.x_high * channels,
                        image + s.y_high * pixel_row + s.x_low * channels,
                        image + s.y_high * pixel_row + s.x_high * channels};
                    for (int64_t j = 0; j < kVectors; ++j) {
                      Vector v[4];
                      for (int t = 0; t < 4; ++t) {
                        std::memcpy(&v[t], taps[t] + j * kLanes, sizeof(Vector));
                      }
                      acc[j] += s.w1 * v[0] + s.w2 * v[1] + s.w3 * v[2] + s.w4 * v[3];
                    }
                  });
  for (int64_t j = 0; j < kVectors; ++j) {
    const Vector average = acc[j] / grid.count;
    std::memcpy(out + j * kLanes, &average, sizeof(Vector));
  }
}

// One RoI: out[bin, c] for bin = ph * pooled_width + pw over a [H, W, C] image,
// kChunk channels at a time.
template <typename T, int64_t kChunk>
ROISERVE_ALWAYS_INLINE void roi_align_one_roi(const T* __restrict image, int64_t width,
                                              int64_t channels, const SampleGrid<T>& grid,
                                              int64_t pooled_height, int64_t pooled_width,
                                              T* __restrict out) {
  for (int64_t ph = 0; ph < pooled_height; ++ph) {
    for (int64_t pw = 0; pw < pooled_width; ++pw) {
      T* bin_out = out + (ph * pooled_width + pw) * channels;
      for (int64_t c = 0; c < channels; c += kChunk) {
        if (c + kChunk <= channels) {
          roi_align_full_bin<T, kChunk>(image + c, width, channels, grid, ph, pw, bin_out + c);
        } else {
          roi_align_bin<T, kChunk>(image + c, width, channels, grid, ph, pw, channels - c,
                                   bin_out + c);
        }
      }
    }
  }
}

// Four cache lines of channels at a time: a whole channels-last map.
template <typename T>
constexpr int64_t kMapChunk = 64 / sizeof(T) * 4;

ROISERVE_CPU_CLONES void roi_align_roi(const float* image, int64_t width, int64_t channels,
                                       const SampleGrid<float>& grid, int64_t pooled_height,
                                       int64_t pooled_width, float* out) {
  roi_align_one_roi<float, kMapChunk<float>>(image, width, channels, grid, pooled_height,
                                             pooled_width, out);
}

ROISERVE_CPU_CLONES void roi_align_roi(const double* image, int64_t width, int64_t channels,
                                       const SampleGrid<double>& grid, int64_t pooled_height,
                                       int64_t pooled_width, double* out) {
  roi_align_one_roi<double, kMapChunk<double>>(image, width, channels, grid, pooled_height,
                                               pooled_width, out);
}

// The geometry shared by both layouts' forward passes.
struct RoIAlignShape {
  int64_t batch_size, channels, height, width, pooled_height, pooled_width;
  int64_t bins() const { return pooled_height * pooled_width; }
};

// Channels [c_begin, c_end) of the RoIs [first, last) of one [C, H, W] image:
// copies the channels into `block` (channel_blocks.h), pools each RoI into a
// bin-major tile and transposes the tile into the RoI's [c_end - c_begin, bins]
// slice of the NCHW output, which is contiguous.
template <typename T>
ROISERVE_ALWAYS_INLINE void roi_align_channel_block(const T* image, const RoIAlignShape& shape,
                                                    int64_t c_begin, int64_t c_end,
                                                    const int64_t* first, const int64_t* last,
                                                    const std::vector<SampleGrid<T>>& grids,
                                                    T* block, T* out) {
  const int64_t block_width = c_end - c_begin;
  copy_channel_block(image, shape.height * shape.width, c_begin, c_end, block);
  std::vector<T> tile(shape.bins() * block_width);
  for (const int64_t* k = first; k != last; ++k) {
    roi_align_one_roi<T, kChannelBlock>(block, shape.width, block_width, grids[*k],
                                        shape.pooled_height, shape.pooled_width, tile.data());
    transpose(tile.data(), shape.bins(), block_width,
              out + (*k * shape.channels + c_begin) * shape.bins());
  }
}

ROISERVE_CPU_CLONES void roi_align_block(const float* image, const RoIAlignShape& shape,
                                         int64_t c_begin, int64_t c_end, const int64_t* first,
                                         const int64_t* last,
                                         const std::vector<SampleGrid<float>>& grids, float* block,
                                         float* out) {
  roi_align_channel_block(image, shape, c_begin, c_end, first, last, grids, block, out);
}

ROISERVE_CPU_CLONES void roi_align_block(const double* image, const RoIAlignShape& shape,
                                         int64_t c_begin, int64_t c_end, const int64_t* first,
                                         const int64_t* last,
                                         const std::vector<SampleGrid<double>>& grids,
                                         double* block, double* out) {
  roi_align_channel_block(image, shape, c_begin, c_end, first, last, grids, block, out);
}

// Scatters one RoI's gradient g[bin, c] (channels [0, block)) into the image's
// gradient [H, W, stride] at channel offset 0.
template <typename T>
ROISERVE_ALWAYS_INLINE void roi_align_backward_one_roi(const T* __restrict grad_bins, int64_t block,
                                                       const SampleGrid<T>& grid,
                                                       int64_t pooled_height, int64_t pooled_width,
                                                       int64_t width, int64_t stride,
                                                       T* __restrict grad_image) {
  const T count = static_cast<T>(grid.grid_h * grid.grid_w);
  for (int64_t ph = 0; ph < pooled_height; ++ph) {
    for (int64_t pw = 0; pw < pooled_width; ++pw) {
      const T* __restrict g = grad_bins + (ph * pooled_width + pw) * block;
      const int64_t pixel_row = width * stride;
      for_each_sample(grid.ys.data() + ph * grid.grid_h, grid.grid_h,
                      grid.xs.data() + pw * grid.grid_w, grid.grid_w,
                      [&](const BilinearSample<T>& s) {
                        // Four separate passes: two taps are one pixel at the border.
                        T* __restrict d1 = grad_image + s.y_low * pixel_row + s.x_low * stride;
                        for (int64_t c = 0; c < block; ++c) d1[c] += g[c] * s.w1 / count;
                        T* __restrict d2 = grad_image + s.y_low * pixel_row + s.x_high * stride;
                        for (int64_t c = 0; c < block; ++c) d2[c] += g[c] * s.w2 / count;
                        T* __restrict d3 = grad_image + s.y_high * pixel_row + s.x_low * stride;
                        for (int64_t c = 0; c < block; ++c) d3[c] += g[c] * s.w3 / count;
                        T* __restrict d4 = grad_image + s.y_high * pixel_row + s.x_high * stride;
                        for (int64_t c = 0; c < block; ++c) d4[c] += g[c] * s.w4 / count;
                      });
    }
  }
}

ROISERVE_CPU_CLONES void roi_align_backward_roi(const float* grad_bins, int64_t block,
                                                const SampleGrid<float>& grid,
                                                int64_t pooled_height, int64_t pooled_width,
                                                int64_t width, int64_t stride, float* grad_image) {
  roi_align_backward_one_roi(grad_bins, block, grid, pooled_height, pooled_width, width, stride,
                             grad_image);
}

ROISERVE_CPU_CLONES void roi_align_backward_roi(const double* grad_bins, int64_t block,
                                                const SampleGrid<double>& grid,
                                                int64_t pooled_height, int64_t pooled_width,
                                                int64_t width, int64_t stride, double* grad_image) {
  roi_align_backward_one_roi(grad_bins, block, grid, pooled_height, pooled_width, width, stride,
                             grad_image);
}

// Channels-last features [N, H, W, C] -> channels-last output [K, bins, C],
// one RoI at a time (task_queue.h).
template <typename T>
void roi_align_channels_last(const T* features, const T* rois, int64_t num_rois,
                             const RoIAlignShape& shape, T scale, T offset, bool aligned,
                             int64_t sampling_ratio, T* out) {
  const int64_t image_size = shape.height * shape.width * shape.channels;
  drain_in_parallel(num_rois, [&](TaskQueue& tasks) {
    SampleGrid<T> grid;
    for (int64_t k; tasks.take(k);) {
      const T* roi = rois + 5 * k;
      compute_sample_grid(kForward, roi, scale, offset, !aligned, shape.pooled_height,
                          shape.pooled_width, sampling_ratio, shape.height, shape.width, grid);
      roi_align_roi(features + static_cast<int64_t>(roi[0]) * image_size, shape.width,
                    shape.channels, grid, shape.pooled_height, shape.pooled_width,
                    out + k * shape.bins() * shape.channels);
    }
  });
}

// NCHW features -> NCHW output [K, C, bins], one block of channels of one image
// at a time; each RoI's sample grid is computed once and used by every block.
template <typename T>
void roi_align_nchw(const T* features, const T* rois, int64_t num_rois, const RoIAlignShape& shape,
                    T scale, T offset, bool aligned, int64_t sampling_ratio, T* out) {
  std::vector<SampleGrid<T>> grids(num_rois);
  at::parallel_for(0, num_rois, 16, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      compute_sample_grid(kForward, rois + 5 * k, scale, offset, !aligned, shape.pooled_height,
                          shape.pooled_width, sampling_ratio, shape.height, shape.width, grids[k]);
    }
  });
  for_each_channel_block_of_images(
      features, rois, num_rois, shape.batch_size, shape.channels, shape.height * shape.width,
      [&](const T* image, int64_t c_begin, int64_t c_end, const int64_t* first, const int64_t* last,
          T* block) {
        roi_align_block(image, shape, c_begin, c_end, first, last, grids, block, out);
      });
}

// float32 or float64 arguments that roi_align_forward_kernel checked.
at::Tensor roi_align_forward_unchecked(const at::Tensor& input, const at::Tensor& rois,
                                       double spatial_scale, int64_t pooled_height,
                                       int64_t pooled_width, int64_t sampling_ratio, bool aligned) {
  const int64_t num_rois = rois.size(0);
  const RoIAlignShape shape{input.size(0), input.size(1), input.size(2),
                            input.size(3), pooled_height, pooled_width};
  const bool channels_last = is_channels_last(input);
  // Every element is written below: no zero fill (a page-faulting pass).
  at::Tensor output =
      at::empty({num_rois, shape.channels, pooled_height, pooled_width}, input.options(),
                channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous);
  if (output.numel() == 0 || shape.height == 0 || shape.width == 0) {
    return output.zero_();
  }
  advise_huge_pages(output);
  const at::Tensor features = input.contiguous(channels_last ? at::MemoryFormat::ChannelsLast
                                                             : at::MemoryFormat::Contiguous);
  const at::Tensor boxes = rois.contiguous();

  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "roi_align_forward", [&] {
    const auto scale = static_cast<scalar_t>(spatial_scale);
    const scalar_t offset = aligned ? 0.5 : 0.0;
    (channels_last ? roi_align_channels_last<scalar_t>
                   : roi_align_nchw<scalar_t>)(features.data_ptr<scalar_t>(),
                                               boxes.data_ptr<scalar_t>(), num_rois, shape, scale,
                                               offset, aligned, sampling_ratio,
                                               output.data_ptr<scalar_t>());
  });
  return output;
}

at::Tensor roi_align_forward_kernel(const at::Tensor& input, const at::Tensor& rois,
                                    double spatial_scale, int64_t pooled_height,
                                    int64_t pooled_width, int64_t sampling_ratio, bool aligned) {
  detail::check_pool_forward_args(kForward, input, rois, spatial_scale, pooled_height,
                                  pooled_width);
  return upcast_reduced_float(input.scalar_type(), roi_align_forward_unchecked, input, rois,
                              spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned);
}

// float32 or float64 arguments that roi_align_backward_kernel checked.
at::Tensor roi_align_backward_unchecked(const at::Tensor& grad, const at::Tensor& rois,
                                        double spatial_scale, int64_t pooled_height,
                                        int64_t pooled_width, int64_t batch_size, int64_t channels,
                                        int64_t height, int64_t width, int64_t sampling_ratio,
                                        bool aligned) {
  at::Tensor grad_input = zeros_in_layout({batch_size, channels, height, width}, grad.options(),
                                          at::MemoryFormat::ChannelsLast);
  const int64_t num_rois = rois.size(0);
  if (num_rois == 0) {
    return restore_layout(grad_input, grad);
  }
  const at::Tensor boxes = rois.contiguous();
  const int64_t bins = pooled_height * pooled_width;

  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "roi_align_backward", [&] {
    const scalar_t* roi_data = boxes.data_ptr<scalar_t>();
    scalar_t* grad_in = grad_input.data_ptr<scalar_t>();
    const auto scale = static_cast<scalar_t>(spatial_scale);
    const scalar_t offset = aligned ? 0.5 : 0.0;
    const BinMajorReader<scalar_t> grad_bins(grad);
    for_each_channel_block(channels, [&](int64_t c_begin, int64_t c_end) {
      const int64_t block = c_end - c_begin;
      SampleGrid<scalar_t> grid;
      std::vector<scalar_t> tile(bins * block);
      for (int64_t k = 0; k < num_rois; ++k) {
        const scalar_t* roi = roi_data + 5 * k;
        compute_sample_grid(kBackward, roi, scale, offset, !aligned, pooled_height, pooled_width,
                            sampling_ratio, height, width, grid);
        grad_bins.gather(k, c_begin, c_end, tile.data());
        scalar_t* image =
            grad_in + static_cast<int64_t>(roi[0]) * height * width * channels + c_begin;
        roi_align_backward_roi(tile.data(), block, grid, pooled_height, pooled_width, width,
                               channels, image);
      }
    });
  });
  return restore_layout(grad_input, grad);
}

at::Tensor roi_align_backward_kernel(const at::Tensor& grad, const at::Tensor& rois,
                                     double spatial_scale, int64_t pooled_height,
                                     int64_t pooled_width, int64_t batch_size, int64_t channels,
                                     int64_t height, int64_t width, int64_t sampling_ratio,
                                     bool aligned) {
  detail::check_pool_backward_args(kBackward, grad, rois, spatial_scale, channels, pooled_height,
                                   pooled_width, batch_size, channels, height, width);
  return upcast_reduced_float(grad.scalar_type(), roi_align_backward_unchecked, grad, rois,
                              spatial_scale, pooled_height, pooled_width, batch_size, channels,
                              height, width, sampling_ratio, aligned);
}

}  // namespace

TORCH_LIBRARY_IMPL(roiserve, CPU, m) {
  m.impl("roi_align", roi_align_forward_kernel);
  m.impl("_roi_align_backward", roi_align_backward_kernel);
}

}  // namespace roiserve::ops::cpu
