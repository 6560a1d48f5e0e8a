#include "detector/model/anchor_generator.h"

#include <ATen/ATen.h>

namespace roiserve::detector {

AnchorGenerator::AnchorGenerator(const std::vector<std::vector<double>>& sizes_per_level,
                                 const std::vector<double>& aspect_ratios) {
  const at::Tensor ratios =
      at::tensor(std::vector<float>(aspect_ratios.begin(), aspect_ratios.end()));
  for (const auto& sizes : sizes_per_level) {
    const at::Tensor scales = at::tensor(std::vector<float>(sizes.begin(), sizes.end()));
    const at::Tensor h_ratios = at::sqrt(ratios);
    const at::Tensor w_ratios = 1 / h_ratios;
    const at::Tensor ws = (w_ratios.unsqueeze(1) * scales.unsqueeze(0)).reshape(-1);
    const at::Tensor hs = (h_ratios.unsqueeze(1) * scales.unsqueeze(0)).reshape(-1);
    cell_anchors_.push_back((at::stack({-ws, -hs, ws, hs}, 1) / 2).round());
  }
  anchors_per_location_ = static_cast<int64_t>(sizes_per_level.at(0).size() * aspect_ratios.size());
}

at::Tensor AnchorGenerator::grid_anchors(const std::vector<at::Tensor>& features,
                                         int64_t padded_height, int64_t padded_width) const {
  std::vector<at::Tensor> anchors;
  for (size_t level = 0; level < features.size(); ++level) {
    const int64_t grid_height = features[level].size(-2);
    const int64_t grid_width = features[level].size(-1);
    const auto device = features[level].device();
    const int64_t stride_y = padded_height / grid_height;
    const int64_t stride_x = padded_width / grid_width;
    const at::Tensor shifts_x =
        at::arange(0, grid_width, at::TensorOptions().dtype(at::kLong).device(device)) * stride_x;
    const at::Tensor shifts_y =
        at::arange(0, grid_height, at::TensorOptions().dtype(at::kLong).device(device)) * stride_y;
    const auto grid = at::meshgrid({shifts_y, shifts_x}, "ij");
    const at::Tensor shift_y = grid[0].reshape(-1);
    const at::Tensor shift_x = grid[1].reshape(-1);
    const at::Tensor shifts = at::stack({shift_x, shift_y, shift_x, shift_y}, 1);
    const at::Tensor base = cell_anchors_[level].to(device);
    anchors.push_back((shifts.view({-1, 1, 4}) + base.view({1, -1, 4})).reshape({-1, 4}));
  }
  return at::cat(anchors);
}

}  // namespace roiserve::detector
