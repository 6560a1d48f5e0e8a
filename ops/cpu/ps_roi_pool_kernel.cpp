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
#include "ops/cpu/layout.h"
#include "ops/cpu/plane_major.h"
#include "ops/cpu/sampling.h"

namespace roiserve::ops::cpu {

namespace {

// The bins of every RoI: rows[k * PH + ph], cols[k * PW + pw].
template <typename T>
void compute_ps_bins(const T* rois, int64_t num_rois, T spatial_scale, int64_t pooled_height,
                     int64_t pooled_width, int64_t height, int64_t width,
                     std::vector<BinRange>& rows, std::vector<BinRange>& cols) {
  rows.resize(num_rois * pooled_height);
  cols.resize(num_rois * pooled_width);
  std::vector<BinRange> roi_rows, roi_cols;
  for (int64_t k = 0; k < num_rois; ++k) {
    const T* roi = rois + 5 * k;
    const int64_t start_w = rounded_cell(roi[1], spatial_scale);
    const int64_t start_h = rounded_cell(roi[2], spatial_scale);
    // Too small RoIs are forced to 1×1; bins never reach the last row/column.
    const int64_t roi_width = std::max<int64_t>(rounded_cell(roi[3], spatial_scale) - start_w, 1);
    const int64_t roi_height = std::max<int64_t>(rounded_cell(roi[4], spatial_scale) - start_h, 1);
    compute_bin_ranges<T>(start_h, roi_height, pooled_height, height - 1, roi_rows);
    compute_bin_ranges<T>(start_w, roi_width, pooled_width, width - 1, roi_cols);
    std::copy(roi_rows.begin(), roi_rows.end(), rows.begin() + k * pooled_height);
    std::copy(roi_cols.begin(), roi_cols.end(), cols.begin() + k * pooled_width);
  }
}

std::tuple<at::Tensor, at::Tensor> ps_roi_pool_forward_kernel(const at::Tensor& input,
                                                              const at::Tensor& rois,
                                                              double spatial_scale,
                                                              int64_t pooled_height,
                                                              int64_t pooled_width) {
  detail::check_pool_forward_args("ps_roi_pool", input, rois, spatial_scale, pooled_height,
                                  pooled_width);
  const int64_t batch = input.size(0);
  const int64_t channels = input.size(1);
  const int64_t height = input.size(2);
  const int64_t width = input.size(3);
  detail::check_position_sensitive_channels("ps_roi_pool", channels, pooled_height, pooled_width);
  if (is_reduced_float(input)) {
    auto [output, mapping] = ps_roi_pool_forward_kernel(as_float(input), as_float(rois),
                                                        spatial_scale, pooled_height, pooled_width);
    return {output.to(input.scalar_type()), mapping};
  }
  const int64_t num_rois = rois.size(0);
  const int64_t channels_out = channels / (pooled_height * pooled_width);
  const at::Tensor mapping = position_sensitive_channel_mapping(num_rois, channels, pooled_height,
                                                                pooled_width, input.options());
  if (num_rois == 0 || channels == 0) {
    return {at::zeros({num_rois, channels_out, pooled_height, pooled_width}, input.options()),
            mapping};
  }
  const at::Tensor features = input.contiguous();
  const at::Tensor boxes = rois.contiguous();
  // Pooled channel-major, [C, K], so that each plane writes one row.
  at::Tensor pooled = at::empty({channels, num_rois}, input.options());

  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "ps_roi_pool_forward", [&] {
    const scalar_t* data = features.data_ptr<scalar_t>();
    const scalar_t* roi_data = boxes.data_ptr<scalar_t>();
    scalar_t* out = pooled.data_ptr<scalar_t>();
    std::vector<BinRange> rows, cols;
    compute_ps_bins(roi_data, num_rois, static_cast<scalar_t>(spatial_scale), pooled_height,
                    pooled_width, height, width, rows, cols);
    const auto groups = rois_by_image(roi_data, num_rois, batch);
    for_each_plane(batch, channels, height * width, data, [&](int64_t n, int64_t c) {
      const scalar_t* plane = data + (n * channels + c) * height * width;
      const auto [ph, pw] = bin_of_channel(c, pooled_height, pooled_width);
      for (const int64_t k : groups[n]) {
        const BinRange& r = rows[k * pooled_height + ph];
        const BinRange& q = cols[k * pooled_width + pw];
        scalar_t sum = 0;
        for (int64_t h = r.start; h < r.end; ++h) {
          for (int64_t w = q.start; w < q.end; ++w) {
            sum += plane[h * width + w];
          }
        }
        const auto area = static_cast<scalar_t>((r.end - r.start) * (q.end - q.start));
        out[c * num_rois + k] = (r.empty() || q.empty()) ? scalar_t(0) : sum / area;
      }
    });
  });
  return {pooled.t().contiguous().view({num_rois, channels_out, pooled_height, pooled_width}),
          mapping};
}

at::Tensor ps_roi_pool_backward_kernel(const at::Tensor& grad, const at::Tensor& rois,
                                       const at::Tensor& channel_mapping, double spatial_scale,
                                       int64_t pooled_height, int64_t pooled_width,
                                       int64_t batch_size, int64_t channels, int64_t height,
                                       int64_t width) {
  const char* op = "ps_roi_pool_backward";
  detail::check_position_sensitive_backward_args(op, grad, rois, channel_mapping, spatial_scale,
                                                 pooled_height, pooled_width, batch_size, channels,
                                                 height, width);
  if (is_reduced_float(grad)) {
    return ps_roi_pool_backward_kernel(as_float(grad), as_float(rois), channel_mapping,
                                       spatial_scale, pooled_height, pooled_width, batch_size,
                                       channels, height, width)
        .to(grad.scalar_type());
  }
  at::Tensor grad_input = at::zeros({batch_size, channels, height, width}, grad.options());
  const int64_t num_rois = rois.size(0);
  if (num_rois == 0) {
    return grad_input;
  }
  const at::Tensor boxes = rois.contiguous();
  // Channel-major [C, K], so that each plane reads one row.
  const at::Tensor grad_by_channel = grad.reshape({num_rois, channels}).t().contiguous();

  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "ps_roi_pool_backward", [&] {
    const scalar_t* roi_data = boxes.data_ptr<scalar_t>();
    const scalar_t* g = grad_by_channel.data_ptr<scalar_t>();
    scalar_t* out = grad_input.data_ptr<scalar_t>();
    std::vector<BinRange> rows, cols;
    compute_ps_bins(roi_data, num_rois, static_cast<scalar_t>(spatial_scale), pooled_height,
                    pooled_width, height, width, rows, cols);
    const auto groups = rois_by_image(roi_data, num_rois, batch_size);
    for_each_plane(batch_size, channels, height * width, out, [&](int64_t n, int64_t c) {
      scalar_t* plane = out + (n * channels + c) * height * width;
      const auto [ph, pw] = bin_of_channel(c, pooled_height, pooled_width);
      for (const int64_t k : groups[n]) {
        const BinRange& r = rows[k * pooled_height + ph];
        const BinRange& q = cols[k * pooled_width + pw];
        if (r.empty() || q.empty()) {
          continue;
        }
        const auto area = static_cast<scalar_t>((r.end - r.start) * (q.end - q.start));
        const scalar_t share = g[c * num_rois + k] / area;
        for (int64_t h = r.start; h < r.end; ++h) {
          for (int64_t w = q.start; w < q.end; ++w) {
            plane[h * width + w] += share;
          }
        }
      }
    });
  });
  return grad_input;
}

}  // namespace

TORCH_LIBRARY_IMPL(roiserve, CPU, m) {
  m.impl("ps_roi_pool", ps_roi_pool_forward_kernel);
  m.impl("_ps_roi_pool_backward", ps_roi_pool_backward_kernel);
}

}  // namespace roiserve::ops::cpu
