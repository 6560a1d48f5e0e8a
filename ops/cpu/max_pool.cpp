#include "ops/cpu/max_pool.h"

#include <ATen/Parallel.h>

#include <algorithm>

#include "ops/cpu/simd.h"

namespace roiserve::ops::cpu {

namespace {

// best = max(best, value), remembering where it came from. Arithmetic rather
// than a branch or a select so that the compiler emits plain max and blend
// instructions (a conditional update becomes masked stores and branches). A NaN
// value never compares greater, so it never wins, as in torchvision.
template <typename T>
ROISERVE_ALWAYS_INLINE void update_maximum(T value, int32_t index, T& best, int32_t& where) {
  const int32_t take = -static_cast<int32_t>(value > best);
  best = std::max(best, value);
  where = (index & take) | (where & ~take);
}

// out[bin, c] and argmax[bin, c] of one RoI over a [H, W, C] image. Pixels in
// the outer loop, all channels in the inner one: a bin covers up to dozens of
// pixels, more than L1 holds, so each pixel is read once per bin while the
// running maxima (2 × C values) stay in L1.
template <typename T>
ROISERVE_ALWAYS_INLINE void max_pool_one_roi(const T* __restrict image, int64_t width,
                                             int64_t channels, const std::vector<BinRange>& rows,
                                             const std::vector<BinRange>& cols, T* __restrict out,
                                             int32_t* __restrict argmax) {
  const auto pooled_width = static_cast<int64_t>(cols.size());
  for (size_t ph = 0; ph < rows.size(); ++ph) {
    for (int64_t pw = 0; pw < pooled_width; ++pw) {
      const BinRange& r = rows[ph];
      const BinRange& q = cols[pw];
      T* __restrict best = out + (ph * pooled_width + pw) * channels;
      int32_t* __restrict where = argmax + (ph * pooled_width + pw) * channels;
      const T initial = (r.empty() || q.empty()) ? T(0) : static_cast<T>(-FLT_MAX);
      std::fill(best, best + channels, initial);
      std::fill(where, where + channels, -1);
      for (int64_t h = r.start; h < r.end; ++h) {
        for (int64_t w = q.start; w < q.end; ++w) {
          const T* __restrict v = image + (h * width + w) * channels;
          const auto index = static_cast<int32_t>(h * width + w);
          for (int64_t c = 0; c < channels; ++c) {
            update_maximum(v[c], index, best[c], where[c]);
          }
        }
      }
    }
  }
}

}  // namespace

ROISERVE_CPU_CLONES void max_pool_roi(const float* image, int64_t width, int64_t channels,
                                      const std::vector<BinRange>& rows,
                                      const std::vector<BinRange>& cols, float* out,
                                      int32_t* argmax) {
  max_pool_one_roi(image, width, channels, rows, cols, out, argmax);
}

ROISERVE_CPU_CLONES void max_pool_roi(const double* image, int64_t width, int64_t channels,
                                      const std::vector<BinRange>& rows,
                                      const std::vector<BinRange>& cols, double* out,
                                      int32_t* argmax) {
  max_pool_one_roi(image, width, channels, rows, cols, out, argmax);
}

void scatter_max_pool_grad(const at::Tensor& grad, const at::Tensor& argmax, const at::Tensor& rois,
                           at::Tensor& grad_input) {
  const int64_t num_rois = grad.size(0);
  const int64_t channels = grad.size(1);
  const int64_t bins = grad.size(2);
  const int64_t plane = grad_input.size(2) * grad_input.size(3);
  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "max_pool_backward", [&] {
    const scalar_t* g = grad.data_ptr<scalar_t>();
    const int32_t* a = argmax.data_ptr<int32_t>();
    const scalar_t* roi_data = rois.data_ptr<scalar_t>();
    scalar_t* out = grad_input.data_ptr<scalar_t>();
    const int64_t g_k = grad.stride(0), g_c = grad.stride(1), g_b = grad.stride(2);
    const int64_t a_k = argmax.stride(0), a_c = argmax.stride(1), a_b = argmax.stride(2);
    for_each_channel_block(channels, [&](int64_t c_begin, int64_t c_end) {
      for (int64_t k = 0; k < num_rois; ++k) {
        scalar_t* image = out + static_cast<int64_t>(roi_data[5 * k]) * plane * channels;
        for (int64_t c = c_begin; c < c_end; ++c) {
          for (int64_t b = 0; b < bins; ++b) {
            const int32_t index = a[k * a_k + c * a_c + b * a_b];
            if (index != -1) {
              image[index * channels + c] += g[k * g_k + c * g_c + b * g_b];
            }
          }
        }
      }
    });
  });
}

}  // namespace roiserve::ops::cpu
