// PSRoIAlign on the CPU, plane-major (see plane_major.h), with RoIAlign's
// sample geometry (sampling.h) precomputed per RoI.
//
// Deliberate difference from torchvision: with adaptive sampling a zero-area
// RoI has no sample points, and torchvision divides 0 by 0 (NaN); here such a
// bin pools to 0, as in roi_align.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "ops/common/checks.h"
#include "ops/cpu/layout.h"
#include "ops/cpu/plane_major.h"
#include "ops/cpu/sampling.h"

namespace roiserve::ops::cpu {

namespace {

// The sample points of every RoI, laid out for plane-major loops: a plane
// reads one bin row and one bin column of every RoI, so all RoIs' samples of
// row ph are stored together (and likewise for columns), and the loop over
// RoIs reads them as one sequential stream instead of hopping between
// per-RoI allocations.
template <typename T>
class PackedSampleGrids {
 public:
  PackedSampleGrids(const char* op, const T* rois, int64_t num_rois, T spatial_scale,
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
      compute_sample_grid(op, rois + 5 * k, spatial_scale, static_cast<T>(0.5), false,
                          pooled_height, pooled_width, sampling_ratio, height, width, grids[k]);
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

  int64_t grid_h(int64_t k) const { return grid_h_[k]; }
  int64_t grid_w(int64_t k) const { return grid_w_[k]; }
  T count(int64_t k) const { return count_[k]; }
  // The grid_h(k) sample rows of RoI k's bin row ph.
  const AxisSample<T>* rows(int64_t k, int64_t ph) const {
    return ys_.data() + ph * rows_per_bin_ + y_offset_[k];
  }
  // The grid_w(k) sample columns of RoI k's bin column pw.
  const AxisSample<T>* cols(int64_t k, int64_t pw) const {
    return xs_.data() + pw * cols_per_bin_ + x_offset_[k];
  }

 private:
  std::vector<int64_t> grid_h_, grid_w_, y_offset_, x_offset_;
  std::vector<T> count_;
  int64_t rows_per_bin_ = 0;
  int64_t cols_per_bin_ = 0;
  std::vector<AxisSample<T>> ys_, xs_;
};

std::tuple<at::Tensor, at::Tensor> ps_roi_align_forward_kernel(
    const at::Tensor& input, const at::Tensor& rois, double spatial_scale, int64_t pooled_height,
    int64_t pooled_width, int64_t sampling_ratio) {
  const char* op = "ps_roi_align";
  detail::check_pool_forward_args(op, input, rois, spatial_scale, pooled_height, pooled_width);
  const int64_t batch = input.size(0);
  const int64_t channels = input.size(1);
  const int64_t height = input.size(2);
  const int64_t width = input.size(3);
  detail::check_position_sensitive_channels(op, channels, pooled_height, pooled_width);
  if (is_reduced_float(input)) {
    auto [output, mapping] =
        ps_roi_align_forward_kernel(as_float(input), as_float(rois), spatial_scale, pooled_height,
                                    pooled_width, sampling_ratio);
    return {output.to(input.scalar_type()), mapping};
  }
  const int64_t num_rois = rois.size(0);
  const int64_t channels_out = channels / (pooled_height * pooled_width);
  const at::Tensor mapping = position_sensitive_channel_mapping(num_rois, channels, pooled_height,
                                                                pooled_width, input.options());
  if (num_rois == 0 || channels == 0 || height == 0 || width == 0) {
    return {at::zeros({num_rois, channels_out, pooled_height, pooled_width}, input.options()),
            mapping};
  }
  const at::Tensor features = input.contiguous();
  const at::Tensor boxes = rois.contiguous();
  at::Tensor pooled = at::empty({channels, num_rois}, input.options());

  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "ps_roi_align_forward", [&] {
    const scalar_t* data = features.data_ptr<scalar_t>();
    const scalar_t* roi_data = boxes.data_ptr<scalar_t>();
    scalar_t* out = pooled.data_ptr<scalar_t>();
    const PackedSampleGrids<scalar_t> grids(op, roi_data, num_rois,
                                            static_cast<scalar_t>(spatial_scale), pooled_height,
                                            pooled_width, sampling_ratio, height, width);
    const auto groups = rois_by_image(roi_data, num_rois, batch);
    for_each_plane(batch, channels, height * width, data, [&](int64_t n, int64_t c) {
      const scalar_t* plane = data + (n * channels + c) * height * width;
      const auto [ph, pw] = bin_of_channel(c, pooled_height, pooled_width);
      for (const int64_t k : groups[n]) {
        const AxisSample<scalar_t>* ys = grids.rows(k, ph);
        const AxisSample<scalar_t>* xs = grids.cols(k, pw);
        const int64_t grid_h = grids.grid_h(k);
        const int64_t grid_w = grids.grid_w(k);
        const scalar_t count = grids.count(k);
        scalar_t sum = 0;
        for_each_sample(ys, grid_h, xs, grid_w, [&](const BilinearSample<scalar_t>& p) {
          sum +=
              p.w1 * plane[p.y_low * width + p.x_low] + p.w2 * plane[p.y_low * width + p.x_high] +
              p.w3 * plane[p.y_high * width + p.x_low] + p.w4 * plane[p.y_high * width + p.x_high];
        });
        out[c * num_rois + k] = sum / count;
      }
    });
  });
  return {pooled.t().contiguous().view({num_rois, channels_out, pooled_height, pooled_width}),
          mapping};
}

at::Tensor ps_roi_align_backward_kernel(const at::Tensor& grad, const at::Tensor& rois,
                                        const at::Tensor& channel_mapping, double spatial_scale,
                                        int64_t pooled_height, int64_t pooled_width,
                                        int64_t sampling_ratio, int64_t batch_size,
                                        int64_t channels, int64_t height, int64_t width) {
  const char* op = "ps_roi_align_backward";
  detail::check_position_sensitive_backward_args(op, grad, rois, channel_mapping, spatial_scale,
                                                 pooled_height, pooled_width, batch_size, channels,
                                                 height, width);
  if (is_reduced_float(grad)) {
    return ps_roi_align_backward_kernel(as_float(grad), as_float(rois), channel_mapping,
                                        spatial_scale, pooled_height, pooled_width, sampling_ratio,
                                        batch_size, channels, height, width)
        .to(grad.scalar_type());
  }
  at::Tensor grad_input = at::zeros({batch_size, channels, height, width}, grad.options());
  const int64_t num_rois = rois.size(0);
  if (num_rois == 0) {
    return grad_input;
  }
  const at::Tensor boxes = rois.contiguous();
  const at::Tensor grad_by_channel = grad.reshape({num_rois, channels}).t().contiguous();

  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "ps_roi_align_backward", [&] {
    const scalar_t* roi_data = boxes.data_ptr<scalar_t>();
    const scalar_t* g = grad_by_channel.data_ptr<scalar_t>();
    scalar_t* out = grad_input.data_ptr<scalar_t>();
    const PackedSampleGrids<scalar_t> grids(op, roi_data, num_rois,
                                            static_cast<scalar_t>(spatial_scale), pooled_height,
                                            pooled_width, sampling_ratio, height, width);
    const auto groups = rois_by_image(roi_data, num_rois, batch_size);
    for_each_plane(batch_size, channels, height * width, out, [&](int64_t n, int64_t c) {
      scalar_t* plane = out + (n * channels + c) * height * width;
      const auto [ph, pw] = bin_of_channel(c, pooled_height, pooled_width);
      for (const int64_t k : groups[n]) {
        const AxisSample<scalar_t>* ys = grids.rows(k, ph);
        const AxisSample<scalar_t>* xs = grids.cols(k, pw);
        const int64_t grid_h = grids.grid_h(k);
        const int64_t grid_w = grids.grid_w(k);
        const scalar_t count = grids.count(k);
        const scalar_t grad_bin = g[c * num_rois + k];
        for_each_sample(ys, grid_h, xs, grid_w, [&](const BilinearSample<scalar_t>& p) {
          plane[p.y_low * width + p.x_low] += grad_bin * p.w1 / count;
          plane[p.y_low * width + p.x_high] += grad_bin * p.w2 / count;
          plane[p.y_high * width + p.x_low] += grad_bin * p.w3 / count;
          plane[p.y_high * width + p.x_high] += grad_bin * p.w4 / count;
        });
      }
    });
  });
  return grad_input;
}

}  // namespace

TORCH_LIBRARY_IMPL(roiserve, CPU, m) {
  m.impl("ps_roi_align", ps_roi_align_forward_kernel);
  m.impl("_ps_roi_align_backward", ps_roi_align_backward_kernel);
}

}  // namespace roiserve::ops::cpu
