// PSRoIAlign on the CPU, plane-major (see plane_major.h), with RoIAlign's
// sample geometry (sampling.h) precomputed per RoI.
//
// Deliberate difference from torchvision: with adaptive sampling a zero-area
// RoI has no sample points, and torchvision divides 0 by 0 (NaN); here such a
// bin pools to 0, as in roi_align.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "ops/common/checks.h"
#include "ops/cpu/plane_major.h"
#include "ops/cpu/reduced_float.h"
#include "ops/cpu/sampling.h"

namespace roiserve::ops::cpu {

namespace {

constexpr const char* kForward = "ps_roi_align";
constexpr const char* kBackward = "ps_roi_align_backward";

// The sample points of every RoI, laid out for plane-major loops: a plane
// reads one bin row and one bin column of every RoI, so all RoIs' samples of
// row ph are stored together (and likewise for columns), and the loop over
// RoIs reads them as one sequential stream instead of hopping between
// per-RoI allocations.
template <typename T>
class PackedSampleGrids {
 public:
  PackedSampleGrids(const char* op, const T* rois, int64_t num_rois, double spatial_scale,
                    int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio,
                    int64_t height, int64_t width)
      : grid_h_(num_rois),
        grid_w_(num_rois),
        y_offset_(num_rois),
        x_offset_(num_rois),
        count_(num_rois) {
    std::vector<SampleGrid<T>> grids(num_rois);
    for (int64_t k = 0; k < num_rois; ++k) {
      // Always half-pixel aligned, never forced to 1×1.
      compute_sample_grid(op, rois + 5 * k, static_cast<T>(spatial_scale), static_cast<T>(0.5),
                          false, pooled_height, pooled_width, sampling_ratio, height, width,
                          grids[k]);
      grid_h_[k] = grids[k].grid_h;
      grid_w_[k] = grids[k].grid_w;
      count_[k] = grids[k].count;
      y_offset_[k] = rows_per_bin_;
      x_offset_[k] = cols_per_bin_;
      rows_per_bin_ += grids[k].grid_h;
      cols_per_bin_ += grids[k].grid_w;
    }
    ys_.resize(pooled_height * rows_per_bin_);
    xs_.resize(pooled_width * cols_per_bin_);
    for (int64_t k = 0; k < num_rois; ++k) {
      for (int64_t ph = 0; ph < pooled_height; ++ph) {
        std::copy_n(grids[k].ys.begin() + ph * grid_h_[k], grid_h_[k],
                    ys_.begin() + ph * rows_per_bin_ + y_offset_[k]);
      }
      for (int64_t pw = 0; pw < pooled_width; ++pw) {
        std::copy_n(grids[k].xs.begin() + pw * grid_w_[k], grid_w_[k],
                    xs_.begin() + pw * cols_per_bin_ + x_offset_[k]);
      }
    }
  }

  // The mean of the bilinear samples of RoI k's bin (ph, pw) over `plane`.
  T pool(const T* plane, int64_t width, int64_t k, int64_t ph, int64_t pw) const {
    const T count = count_[k];
    T sum = 0;
    for_each_sample(
        rows(k, ph), grid_h_[k], cols(k, pw), grid_w_[k], [&](const BilinearSample<T>& p) {
          sum +=
              p.w1 * plane[p.y_low * width + p.x_low] + p.w2 * plane[p.y_low * width + p.x_high] +
              p.w3 * plane[p.y_high * width + p.x_low] + p.w4 * plane[p.y_high * width + p.x_high];
        });
    return sum / count;
  }

  // Hands the bin's gradient to the taps of its samples by their weights.
  void scatter(T grad, T* plane, int64_t width, int64_t k, int64_t ph, int64_t pw) const {
    const T count = count_[k];
    for_each_sample(rows(k, ph), grid_h_[k], cols(k, pw), grid_w_[k],
                    [&](const BilinearSample<T>& p) {
                      plane[p.y_low * width + p.x_low] += grad * p.w1 / count;
                      plane[p.y_low * width + p.x_high] += grad * p.w2 / count;
                      plane[p.y_high * width + p.x_low] += grad * p.w3 / count;
                      plane[p.y_high * width + p.x_high] += grad * p.w4 / count;
                    });
  }

 private:
  // The grid_h_[k] sample rows of RoI k's bin row ph.
  const AxisSample<T>* rows(int64_t k, int64_t ph) const {
    return ys_.data() + ph * rows_per_bin_ + y_offset_[k];
  }
  // The grid_w_[k] sample columns of RoI k's bin column pw.
  const AxisSample<T>* cols(int64_t k, int64_t pw) const {
    return xs_.data() + pw * cols_per_bin_ + x_offset_[k];
  }

  std::vector<int64_t> grid_h_, grid_w_, y_offset_, x_offset_;
  std::vector<T> count_;
  int64_t rows_per_bin_ = 0;
  int64_t cols_per_bin_ = 0;
  std::vector<AxisSample<T>> ys_, xs_;
};

// float32 or float64 arguments that ps_roi_align_forward_kernel checked.
std::tuple<at::Tensor, at::Tensor> ps_roi_align_forward_unchecked(
    const at::Tensor& input, const at::Tensor& rois, double spatial_scale, int64_t pooled_height,
    int64_t pooled_width, int64_t sampling_ratio) {
  const auto make_grids = [&](const auto* roi_data) {
    return PackedSampleGrids(kForward, roi_data, rois.size(0), spatial_scale, pooled_height,
                             pooled_width, sampling_ratio, input.size(2), input.size(3));
  };
  return position_sensitive_forward(input, rois, pooled_height, pooled_width, make_grids);
}

std::tuple<at::Tensor, at::Tensor> ps_roi_align_forward_kernel(
    const at::Tensor& input, const at::Tensor& rois, double spatial_scale, int64_t pooled_height,
    int64_t pooled_width, int64_t sampling_ratio) {
  detail::check_pool_forward_args(kForward, input, rois, spatial_scale, pooled_height,
                                  pooled_width);
  detail::check_position_sensitive_channels(kForward, input.size(1), pooled_height, pooled_width);
  return upcast_reduced_float(input.scalar_type(), ps_roi_align_forward_unchecked, input, rois,
                              spatial_scale, pooled_height, pooled_width, sampling_ratio);
}

// float32 or float64 arguments that ps_roi_align_backward_kernel checked.
at::Tensor ps_roi_align_backward_unchecked(const at::Tensor& grad, const at::Tensor& rois,
                                           double spatial_scale, int64_t pooled_height,
                                           int64_t pooled_width, int64_t sampling_ratio,
                                           int64_t batch_size, int64_t channels, int64_t height,
                                           int64_t width) {
  const auto make_grids = [&](const auto* roi_data) {
    return PackedSampleGrids(kBackward, roi_data, rois.size(0), spatial_scale, pooled_height,
                             pooled_width, sampling_ratio, height, width);
  };
  return position_sensitive_backward(grad, rois, pooled_height, pooled_width, batch_size, channels,
                                     height, width, make_grids);
}

at::Tensor ps_roi_align_backward_kernel(const at::Tensor& grad, const at::Tensor& rois,
                                        const at::Tensor& channel_mapping, double spatial_scale,
                                        int64_t pooled_height, int64_t pooled_width,
                                        int64_t sampling_ratio, int64_t batch_size,
                                        int64_t channels, int64_t height, int64_t width) {
  detail::check_position_sensitive_backward_args(kBackward, grad, rois, channel_mapping,
                                                 spatial_scale, pooled_height, pooled_width,
                                                 batch_size, channels, height, width);
  return upcast_reduced_float(grad.scalar_type(), ps_roi_align_backward_unchecked, grad, rois,
                              spatial_scale, pooled_height, pooled_width, sampling_ratio,
                              batch_size, channels, height, width);
}

}  // namespace

TORCH_LIBRARY_IMPL(roiserve, CPU, m) {
  m.impl("ps_roi_align", ps_roi_align_forward_kernel);
  m.impl("_ps_roi_align_backward", ps_roi_align_backward_kernel);
}

}  // namespace roiserve::ops::cpu
