#include "detector/model/roi_levels.h"

#include <ATen/ATen.h>

#include <cmath>

#include "detector/model/backbone.h"
#include "ops/ops.h"

namespace roiserve::detector {
namespace {
// torchvision's LevelMapper epsilon.
constexpr float kLevelEpsilon = 1e-6f;
}  // namespace

LevelledRois assign_roi_levels(const std::vector<at::Tensor>& boxes_per_image,
                               const LevelMapperConfig& config) {
  std::vector<at::Tensor> rois;
  for (size_t i = 0; i < boxes_per_image.size(); ++i) {
    const at::Tensor& boxes = boxes_per_image[i];
    rois.push_back(at::cat(
        {at::full({boxes.size(0), 1}, static_cast<double>(i), boxes.options()), boxes}, 1));
  }
  LevelledRois result;
  result.rois = at::cat(rois);
  const at::Tensor sizes = at::sqrt(ops::box_area(result.rois.narrow(1, 1, 4)));
  const at::Tensor target = at::floor(
      at::log2(sizes / static_cast<float>(config.canonical_scale)) +
      static_cast<float>(config.canonical_level) +
      at::scalar_tensor(kLevelEpsilon, sizes.options()));
  const double first = kFirstLevel;
  const double last = kFirstLevel + kNumPooledLevels - 1;
  result.levels = target.clamp(first, last).to(at::kLong) - kFirstLevel;
  return result;
}

double pooled_level_scale(int64_t level) { return std::ldexp(1.0, -(kFirstLevel + level)); }

at::Tensor pool_by_level(const std::vector<at::Tensor>& features, const LevelledRois& rois,
                         const LevelPoolFn& pool) {
  std::vector<at::Tensor> pooled;
  std::vector<at::Tensor> order;
  for (int64_t level = 0; level < kNumPooledLevels; ++level) {
    const at::Tensor indices = at::nonzero(rois.levels == level).squeeze(1);
    if (indices.numel() == 0 && level + 1 < kNumPooledLevels) continue;
    pooled.push_back(pool(features[level], rois.rois.index_select(0, indices),
                          pooled_level_scale(level)));
    order.push_back(indices);
  }
  const at::Tensor gathered_order = at::cat(order);
  const at::Tensor inverse = at::empty_like(gathered_order);
  inverse.index_put_({gathered_order},
                     at::arange(gathered_order.numel(), gathered_order.options()));
  return at::cat(pooled).index_select(0, inverse);
}

}  // namespace roiserve::detector
