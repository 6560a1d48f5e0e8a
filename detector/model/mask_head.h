#pragma once
// Mask R-CNN's mask branch: RoI features (pooled 14x14 by RoIAlign or RoIPool)
// -> 4 x (3x3 conv + ReLU) -> 2x2 transposed conv (stride 2) + ReLU -> 1x1
// conv: a 28x28 mask logit map per class.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>

#include <vector>

#include "detector/config/model_config.h"
#include "detector/model/prepared_conv.h"
#include "detector/model/roi_levels.h"

namespace roiserve::detector {

class MaskHeadImpl : public torch::nn::Module {
 public:
  MaskHeadImpl(const std::string& pooler, const MaskConfig& config, int64_t in_channels,
               int64_t num_classes_with_background);
  // Stage "mask_pool": [K, C, pooled, pooled].
  at::Tensor pool(const std::vector<at::Tensor>& features, const LevelledRois& rois) const;
  // Stage "mask_head": logits [K, classes + 1, 2 * pooled, 2 * pooled]
  // (float32; once prepared, serving computes in the prepared dtype).
  at::Tensor forward(const at::Tensor& pooled);
  // The serving arithmetic (prepared_conv.h), once, at load.
  void prepare(c10::ScalarType dtype);

 private:
  std::string pooler_;
  int64_t pooled_size_;
  int64_t sampling_ratio_;
  torch::nn::ModuleList convs_;
  torch::nn::ConvTranspose2d upsample_{nullptr};
  torch::nn::Conv2d logits_{nullptr};
  // convs, then upsample, then logits
  std::vector<PreparedConv> prepared_;
  c10::ScalarType prepared_dtype_ = c10::kFloat;
};
TORCH_MODULE(MaskHead);

// Binary cross-entropy between each RoI's logits of its label and the target
// mask: the matched ground-truth mask cropped to the RoI and resampled to the
// logits' size with RoIAlign (torchvision's project_masks_on_boxes).
at::Tensor mask_loss(const at::Tensor& logits, const std::vector<at::Tensor>& roi_boxes,
                     const std::vector<at::Tensor>& matched_gt,
                     const std::vector<at::Tensor>& labels, const std::vector<at::Tensor>& gt_masks);

}  // namespace roiserve::detector
