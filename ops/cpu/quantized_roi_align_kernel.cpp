// RoIAlign on quantized features and RoIs (QuantizedCPU), with torchvision
// 0.14's semantics: one image per batch, RoI corners dequantized, each bin
// averaged over the features' stored integers with the zero point taken out
// once per bin, and the result quantized with the features' scale and zero
// point. The sample geometry is the float kernel's (sampling.h), computed once
// per RoI in float32 as torchvision does. The features are read channels-last,
// so each tap is a contiguous run over channels that vectorizes; the output
// follows the input's layout, as the float kernels' does; RoIs are split over
// threads. With the arithmetic in torchvision's order per channel (and
// -ffp-contract=off), results are torchvision's, integer for integer.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ops/common/checks.h"
#include "ops/cpu/layout.h"
#include "ops/cpu/sampling.h"
#include "ops/cpu/simd.h"

namespace roiserve::ops::cpu {

namespace {

constexpr const char* kOp = "roi_align";

// The affine parameters of a per-tensor quantized tensor, in float as
// torchvision reads them.
struct Quantization {
  float scale;
  int64_t zero_point;

  explicit Quantization(const at::Tensor& tensor)
      : scale(static_cast<float>(tensor.q_scale())), zero_point(tensor.q_zero_point()) {}

  template <typename Stored>
  float dequantize(Stored stored) const {
    return (static_cast<float>(stored) - static_cast<float>(zero_point)) * scale;
  }

  // Round half to even, then saturate to the stored type's range (NaN, from a
  // vanishing scale, to its lowest value). Branch-free, so that a bin's
  // channels quantize in vector registers.
  template <typename Stored>
  Stored quantize(float value) const {
    constexpr float kLowest = static_cast<float>(std::numeric_limits<Stored>::lowest());
    // Exact for the 8-bit types; 2^31, one past the largest int32, for qint32.
    constexpr float kHighest = static_cast<float>(std::numeric_limits<Stored>::max());
    const float rounded = static_cast<float>(zero_point) + std::nearbyint(value * (1.0f / scale));
    const float clamped = std::min(std::max(kLowest, rounded), kHighest);
    if constexpr (sizeof(Stored) < sizeof(int32_t)) {
      return static_cast<Stored>(static_cast<int32_t>(clamped));
    } else {
      return static_cast<Stored>(
          std::min<int64_t>(static_cast<int64_t>(clamped), std::numeric_limits<Stored>::max()));
    }
  }
};

// One bin over every channel of a channels-last [H, W, C] image of stored
// values: the weighted sum of the stored values per channel, and the sum of
// the weights (the same for every channel), in torchvision's order per channel.
template <typename Stored>
ROISERVE_ALWAYS_INLINE float sum_bin(const Stored* __restrict image, int64_t width,
                                     int64_t channels, const AxisSample<float>* ys, int64_t grid_h,
                                     const AxisSample<float>* xs, int64_t grid_w,
                                     float* __restrict sums) {
  std::fill(sums, sums + channels, 0.0f);
  float weight = 0;
  const int64_t pixel_row = width * channels;
  for_each_sample(ys, grid_h, xs, grid_w, [&](const BilinearSample<float>& s) {
    const Stored* __restrict v1 = image + s.y_low * pixel_row + s.x_low * channels;
    const Stored* __restrict v2 = image + s.y_low * pixel_row + s.x_high * channels;
    const Stored* __restrict v3 = image + s.y_high * pixel_row + s.x_low * channels;
    const Stored* __restrict v4 = image + s.y_high * pixel_row + s.x_high * channels;
    for (int64_t c = 0; c < channels; ++c) {
      sums[c] += s.w1 * static_cast<float>(v1[c]) + s.w2 * static_cast<float>(v2[c]) +
                 s.w3 * static_cast<float>(v3[c]) + s.w4 * static_cast<float>(v4[c]);
    }
    weight += s.w1 + s.w2 + s.w3 + s.w4;
  });
  return weight;
}

// quantized[c] for the sums of one bin. The parameters are copied to locals:
// stores through `quantized`, a pointer to bytes, could otherwise alias them,
// and the loop would reload them instead of vectorizing.
template <typename Stored>
ROISERVE_ALWAYS_INLINE void quantize_bin(const Quantization& features, float zero_part, float count,
                                         int64_t channels, const float* __restrict sums,
                                         Stored* __restrict quantized) {
  const Quantization local = features;
  for (int64_t c = 0; c < channels; ++c) {
    quantized[c] = local.quantize<Stored>(local.scale * (sums[c] - zero_part) / count);
  }
}

// One RoI as a bin-major tile [pooled_height * pooled_width, channels].
template <typename Stored>
ROISERVE_ALWAYS_INLINE void pool_one_roi(const Stored* image, int64_t width, int64_t channels,
                                         const SampleGrid<float>& grid, int64_t pooled_height,
                                         int64_t pooled_width, const Quantization& features,
                                         float* sums, Stored* tile) {
  for (int64_t ph = 0; ph < pooled_height; ++ph) {
    for (int64_t pw = 0; pw < pooled_width; ++pw) {
      const float weight =
          sum_bin(image, width, channels, grid.ys.data() + ph * grid.grid_h, grid.grid_h,
                  grid.xs.data() + pw * grid.grid_w, grid.grid_w, sums);
      // The zero point comes out once per bin: sum(w * (q - z)) = sum(w * q) - z * sum(w).
      const float zero_part = static_cast<float>(features.zero_point) * weight;
      quantize_bin(features, zero_part, grid.count, channels, sums,
                   tile + (ph * pooled_width + pw) * channels);
    }
  }
}

// Compiled for each SIMD level (simd.h), once per stored type.
#define ROISERVE_QUANTIZED_POOL_ONE_ROI(Stored)                                                    \
  ROISERVE_CPU_CLONES void pool_one_roi_cloned(                                                    \
      const Stored* image, int64_t width, int64_t channels, const SampleGrid<float>& grid,         \
      int64_t pooled_height, int64_t pooled_width, const Quantization& features, float* sums,      \
      Stored* tile) {                                                                              \
    pool_one_roi(image, width, channels, grid, pooled_height, pooled_width, features, sums, tile); \
  }
ROISERVE_QUANTIZED_POOL_ONE_ROI(uint8_t)
ROISERVE_QUANTIZED_POOL_ONE_ROI(int8_t)
ROISERVE_QUANTIZED_POOL_ONE_ROI(int32_t)
#undef ROISERVE_QUANTIZED_POOL_ONE_ROI

at::Tensor quantized_roi_align_kernel(const at::Tensor& input, const at::Tensor& rois,
                                      double spatial_scale, int64_t pooled_height,
                                      int64_t pooled_width, int64_t sampling_ratio, bool aligned) {
  detail::check_quantized_pool_forward_args(kOp, input, rois, spatial_scale, pooled_height,
                                            pooled_width);
  const int64_t count = rois.size(0);
  const int64_t channels = input.size(1);
  const int64_t height = input.size(2);
  const int64_t width = input.size(3);
  const bool channels_last = is_channels_last(input);
  at::Tensor output = at::_empty_affine_quantized(
      {count, channels, pooled_height, pooled_width}, input.options(), input.q_scale(),
      input.q_zero_point(),
      channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous);
  if (output.numel() == 0) {
    return output;
  }
  // Channels-last, so that each tap is a contiguous run over channels.
  const at::Tensor features = input.contiguous(at::MemoryFormat::ChannelsLast);
  const Quantization feature_quantization(features);
  const Quantization roi_quantization(rois);
  const at::Tensor stored_rois = rois.int_repr().contiguous();
  const float scale = static_cast<float>(spatial_scale);
  const float offset = aligned ? 0.5f : 0.0f;
  const int64_t bins = pooled_height * pooled_width;
  AT_DISPATCH_QINT_TYPES(input.scalar_type(), "quantized_roi_align", [&] {
    using Stored = underlying_t;
    const Stored* image = reinterpret_cast<const Stored*>(features.data_ptr<scalar_t>());
    const Stored* stored = stored_rois.data_ptr<Stored>();
    Stored* out = reinterpret_cast<Stored*>(output.data_ptr<scalar_t>());
    at::parallel_for(0, count, 1, [&](int64_t begin, int64_t end) {
      SampleGrid<float> grid;
      std::vector<float> sums(channels);
      std::vector<Stored> tile(channels_last ? 0 : bins * channels);
      for (int64_t k = begin; k < end; ++k) {
        // The batch index is checked (it must be 0) and otherwise unused.
        float corners[5] = {0};
        for (int i = 1; i < 5; ++i) {
          corners[i] = roi_quantization.dequantize(stored[5 * k + i]);
        }
        compute_sample_grid(kOp, corners, scale, offset, /*min_size_one=*/!aligned, pooled_height,
                            pooled_width, sampling_ratio, height, width, grid);
        Stored* roi_out = out + k * channels * bins;
        pool_one_roi_cloned(image, width, channels, grid, pooled_height, pooled_width,
                            feature_quantization, sums.data(),
                            channels_last ? roi_out : tile.data());
        if (!channels_last) {
          transpose_bins_to_channels(tile.data(), bins, channels, roi_out);
        }
      }
    });
  });
  return output;
}

}  // namespace

TORCH_LIBRARY_IMPL(roiserve, QuantizedCPU, m) {
  m.impl("roi_align", quantized_roi_align_kernel);
}

}  // namespace roiserve::ops::cpu
