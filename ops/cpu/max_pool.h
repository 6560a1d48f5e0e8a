#pragma once
// Quantized max pooling over RoI bins, shared by RoIPool and SPP: a forward
// that pools one RoI of a channels-last image, and a backward that routes each
// gradient to the position its forward took the maximum from.
#include <ATen/ATen.h>

#include <cfloat>
#include <cstdint>
#include <vector>

#include "ops/common/roi_pool_cells.h"
#include "ops/cpu/layout.h"
#include "ops/cpu/sampling.h"

namespace roiserve::ops::cpu {

// RoIPool's bins of one RoI: rows[ph] and cols[pw], clipped to the map.
template <typename T>
void compute_max_pool_bins(const T* roi, T spatial_scale, int64_t pooled_height,
                           int64_t pooled_width, int64_t height, int64_t width,
                           std::vector<BinRange>& rows, std::vector<BinRange>& cols) {
  const RoIPoolCells<T> cells = roi_pool_cells(roi, spatial_scale);
  compute_bin_ranges<T>(cells.start_h, cells.height, pooled_height, height, rows);
  compute_bin_ranges<T>(cells.start_w, cells.width, pooled_width, width, cols);
}

// out[bin, c] and argmax[bin, c] (flat h * W + w, -1 for an empty bin) of one
// RoI over a [H, W, C] image. An empty bin pools to 0, and a NaN never wins,
// as in torchvision.
void max_pool_roi(const float* image, int64_t width, int64_t channels,
                  const std::vector<BinRange>& rows, const std::vector<BinRange>& cols, float* out,
                  int32_t* argmax);
void max_pool_roi(const double* image, int64_t width, int64_t channels,
                  const std::vector<BinRange>& rows, const std::vector<BinRange>& cols, double* out,
                  int32_t* argmax);

// grad_input (channels-last [N, C, H, W]) += grad routed through argmax; grad
// and argmax are [K, C, bins] views of any strides, rois [K, 5] contiguous.
void scatter_max_pool_grad(const at::Tensor& grad, const at::Tensor& argmax, const at::Tensor& rois,
                           at::Tensor& grad_input);

}  // namespace roiserve::ops::cpu
