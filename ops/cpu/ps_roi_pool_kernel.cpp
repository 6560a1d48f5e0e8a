// PSRoIPool (R-FCN) on the CPU, plane-major (see plane_major.h).
//
// Deliberate difference from torchvision: its forward clips bins to
// [0, H - 1] x [0, W - 1] while its backward clips them to [0, H] x [0, W], so
// its gradient is wrong for every bin touching the bottom or right border. The
// backward here is the exact gradient of the forward (both use the forward's
// bins), which float64 gradcheck confirms.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "ops/common/checks.h"
#include "ops/common/position_sensitive.h"
#include "ops/cpu/plane_major.h"
#include "ops/cpu/reduced_float.h"

namespace roiserve::ops::cpu {

namespace {

constexpr const char* kForward = "ps_roi_pool";
constexpr const char* kBackward = "ps_roi_pool_backward";

// The bins of every RoI, and the average pooling over them.
template <typename T>
class PSRoIPoolBins {
 public:
  PSRoIPoolBins(const T* rois, int64_t num_rois, double spatial_scale, int64_t pooled_height,
                int64_t pooled_width, int64_t height, int64_t width)
      : pooled_height_(pooled_height),
        pooled_width_(pooled_width),
        rows_(num_rois * pooled_height),
        cols_(num_rois * pooled_width) {
    const auto scale = static_cast<T>(spatial_scale);
    for (int64_t k = 0; k < num_rois; ++k) {
      const PSRoIPoolCells<T> cells = ps_roi_pool_cells(rois + 5 * k, scale);
      for (int64_t ph = 0; ph < pooled_height; ++ph) {
        rows_[k * pooled_height + ph] = cells.row(ph, pooled_height, height);
      }
      for (int64_t pw = 0; pw < pooled_width; ++pw) {
        cols_[k * pooled_width + pw] = cells.col(pw, pooled_width, width);
      }
    }
  }

  // The mean of RoI k's bin (ph, pw) over `plane`; 0 for an empty bin.
  T pool(const T* plane, int64_t width, int64_t k, int64_t ph, int64_t pw) const {
    const BinRange& r = rows_[k * pooled_height_ + ph];
    const BinRange& q = cols_[k * pooled_width_ + pw];
    T sum = 0;
    for (int64_t h = r.start; h < r.end; ++h) {
      for (int64_t w = q.start; w < q.end; ++w) {
        sum += plane[h * width + w];
      }
    }
    const auto area = static_cast<T>((r.end - r.start) * (q.end - q.start));
    return (r.empty() || q.empty()) ? T(0) : sum / area;
  }

  // Spreads the bin's gradient evenly over the cells it averaged.
  void scatter(T grad, T* plane, int64_t width, int64_t k, int64_t ph, int64_t pw) const {
    const BinRange& r = rows_[k * pooled_height_ + ph];
    const BinRange& q = cols_[k * pooled_width_ + pw];
    if (r.empty() || q.empty()) {
      return;
    }
    const auto area = static_cast<T>((r.end - r.start) * (q.end - q.start));
    const T share = grad / area;
    for (int64_t h = r.start; h < r.end; ++h) {
      for (int64_t w = q.start; w < q.end; ++w) {
        plane[h * width + w] += share;
      }
    }
  }

 private:
  int64_t pooled_height_, pooled_width_;
  // rows_[k * PH + ph], cols_[k * PW + pw].
  std::vector<BinRange> rows_, cols_;
};

// float32 or float64 arguments that ps_roi_pool_forward_kernel checked.
std::tuple<at::Tensor, at::Tensor> ps_roi_pool_forward_unchecked(const at::Tensor& input,
                                                                 const at::Tensor& rois,
                                                                 double spatial_scale,
                                                                 int64_t pooled_height,
                                                                 int64_t pooled_width) {
  const auto make_bins = [&](const auto* roi_data) {
    return PSRoIPoolBins(roi_data, rois.size(0), spatial_scale, pooled_height, pooled_width,
                         input.size(2), input.size(3));
  };
  return position_sensitive_forward(input, rois, pooled_height, pooled_width, make_bins);
}

std::tuple<at::Tensor, at::Tensor> ps_roi_pool_forward_kernel(const at::Tensor& input,
                                                              const at::Tensor& rois,
                                                              double spatial_scale,
                                                              int64_t pooled_height,
                                                              int64_t pooled_width) {
  detail::check_pool_forward_args(kForward, input, rois, spatial_scale, pooled_height,
                                  pooled_width);
  detail::check_position_sensitive_channels(kForward, input.size(1), pooled_height, pooled_width);
  return upcast_reduced_float(input.scalar_type(), ps_roi_pool_forward_unchecked, input, rois,
                              spatial_scale, pooled_height, pooled_width);
}

// float32 or float64 arguments that ps_roi_pool_backward_kernel checked.
at::Tensor ps_roi_pool_backward_unchecked(const at::Tensor& grad, const at::Tensor& rois,
                                          double spatial_scale, int64_t pooled_height,
                                          int64_t pooled_width, int64_t batch_size,
                                          int64_t channels, int64_t height, int64_t width) {
  const auto make_bins = [&](const auto* roi_data) {
    return PSRoIPoolBins(roi_data, rois.size(0), spatial_scale, pooled_height, pooled_width, height,
                         width);
  };
  return position_sensitive_backward(grad, rois, pooled_height, pooled_width, batch_size, channels,
                                     height, width, make_bins);
}

at::Tensor ps_roi_pool_backward_kernel(const at::Tensor& grad, const at::Tensor& rois,
                                       const at::Tensor& channel_mapping, double spatial_scale,
                                       int64_t pooled_height, int64_t pooled_width,
                                       int64_t batch_size, int64_t channels, int64_t height,
                                       int64_t width) {
  detail::check_position_sensitive_backward_args(kBackward, grad, rois, channel_mapping,
                                                 spatial_scale, pooled_height, pooled_width,
                                                 batch_size, channels, height, width);
  return upcast_reduced_float(grad.scalar_type(), ps_roi_pool_backward_unchecked, grad, rois,
                              spatial_scale, pooled_height, pooled_width, batch_size, channels,
                              height, width);
}

}  // namespace

TORCH_LIBRARY_IMPL(roiserve, CPU, m) {
  m.impl("ps_roi_pool", ps_roi_pool_forward_kernel);
  m.impl("_ps_roi_pool_backward", ps_roi_pool_backward_kernel);
}

}  // namespace roiserve::ops::cpu
