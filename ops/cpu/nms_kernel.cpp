// NMS on the CPU. Boxes are gathered in score order into flat coordinate
// arrays, so the inner suppression loop is branch-free and vectorizes; the IoU
// arithmetic is torchvision's, operation for operation, so both keep the same
// boxes even at IoU ties with the threshold.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "ops/common/checks.h"
#include "ops/cpu/reduced_float.h"
#include "ops/cpu/simd.h"

namespace roiserve::ops::cpu {

namespace {

template <typename T>
ROISERVE_ALWAYS_INLINE int64_t greedy_suppression(const T* __restrict x1, const T* __restrict y1,
                                                  const T* __restrict x2, const T* __restrict y2,
                                                  const T* __restrict area, int64_t count,
                                                  double iou_threshold,
                                                  uint8_t* __restrict suppressed,
                                                  int64_t* __restrict keep) {
  int64_t kept = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (suppressed[i]) {
      continue;
    }
    keep[kept++] = i;
    for (int64_t j = i + 1; j < count; ++j) {
      const T w = std::max(static_cast<T>(0), std::min(x2[i], x2[j]) - std::max(x1[i], x1[j]));
      const T h = std::max(static_cast<T>(0), std::min(y2[i], y2[j]) - std::max(y1[i], y1[j]));
      const T inter = w * h;
      const T iou = inter / (area[i] + area[j] - inter);
      suppressed[j] |= static_cast<uint8_t>(iou > iou_threshold);
    }
  }
  return kept;
}

ROISERVE_CPU_CLONES int64_t suppress(const float* x1, const float* y1, const float* x2,
                                     const float* y2, const float* area, int64_t count,
                                     double iou_threshold, uint8_t* suppressed, int64_t* keep) {
  return greedy_suppression(x1, y1, x2, y2, area, count, iou_threshold, suppressed, keep);
}

ROISERVE_CPU_CLONES int64_t suppress(const double* x1, const double* y1, const double* x2,
                                     const double* y2, const double* area, int64_t count,
                                     double iou_threshold, uint8_t* suppressed, int64_t* keep) {
  return greedy_suppression(x1, y1, x2, y2, area, count, iou_threshold, suppressed, keep);
}

at::Tensor nms_float_kernel(const at::Tensor& boxes, const at::Tensor& scores,
                            double iou_threshold) {
  if (boxes.size(0) == 0) {
    return at::empty({0}, boxes.options().dtype(at::kLong));
  }
  // Stable, so that equal scores keep their index order.
  const at::Tensor order =
      std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  const at::Tensor sorted = boxes.index_select(0, order).t().contiguous();
  const at::Tensor area = (sorted[2] - sorted[0]) * (sorted[3] - sorted[1]);
  const int64_t count = boxes.size(0);
  std::vector<uint8_t> suppressed(count, 0);
  at::Tensor keep = at::empty({count}, boxes.options().dtype(at::kLong));
  int64_t kept = 0;
  AT_DISPATCH_FLOATING_TYPES(boxes.scalar_type(), "nms", [&] {
    const scalar_t* coords = sorted.data_ptr<scalar_t>();
    kept = suppress(coords, coords + count, coords + 2 * count, coords + 3 * count,
                    area.data_ptr<scalar_t>(), count, iou_threshold, suppressed.data(),
                    keep.data_ptr<int64_t>());
  });
  return order.index_select(0, keep.narrow(0, 0, kept));
}

// float16 and bfloat16 boxes are compared in float32, as the CUDA kernel does.
at::Tensor nms_kernel(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold) {
  detail::check_nms_args("nms", boxes, scores);
  return upcast_reduced_float(boxes.scalar_type(), nms_float_kernel, boxes, scores, iou_threshold);
}

// Quantized boxes and scores compare by their stored integers, as torchvision's
// do: the one scale of the boxes cancels in the IoU and the zero point in every
// difference, and scores order as their integers do. The IoU is computed in
// float32, as torchvision computes it (in float64 ties with the threshold would
// fall the other way): integers below 2^24 and their differences are exact
// there, and each area rounds once, as torchvision's integer product does when
// it converts it; so the kept boxes are torchvision's. (torchvision multiplies
// qint32 widths by heights in int32, which overflows past 46,340; ours do not.)
at::Tensor quantized_nms_kernel(const at::Tensor& boxes, const at::Tensor& scores,
                                double iou_threshold) {
  detail::check_quantized_nms_args("nms", boxes, scores);
  return nms_float_kernel(boxes.int_repr().to(at::kFloat), scores.int_repr().to(at::kFloat),
                          iou_threshold);
}

}  // namespace

TORCH_LIBRARY_IMPL(roiserve, CPU, m) {
  m.impl("nms", nms_kernel);
}

TORCH_LIBRARY_IMPL(roiserve, QuantizedCPU, m) {
  m.impl("nms", quantized_nms_kernel);
}

}  // namespace roiserve::ops::cpu
