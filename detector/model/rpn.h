#pragma once
// Region proposal network with torchvision's semantics: a shared 3x3 conv and
// 1x1 objectness / box-delta convs over every FPN level; per level the top
// pre_nms_top_n anchors; clipped, small boxes removed, NMS per level, then the
// best post_nms_top_n per image.
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>

#include <map>
#include <string>
#include <vector>

#include "detector/config/model_config.h"
#include "detector/model/anchor_generator.h"
#include "detector/model/image_batch.h"
#include "detector/model/matcher.h"
#include "detector/model/prepared_conv.h"
#include "detector/model/targets.h"

namespace roiserve::detector {

class RpnHeadImpl : public torch::nn::Module {
 public:
  RpnHeadImpl(int64_t channels, int64_t anchors_per_location);
  // Per level: objectness [N, A, H, W] and box deltas [N, 4A, H, W].
  // Once prepared, serving computes in the prepared dtype, channels-last, and
  // returns float32.
  std::pair<std::vector<at::Tensor>, std::vector<at::Tensor>> forward(
      const std::vector<at::Tensor>& features);
  void prepare(c10::ScalarType dtype);

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::Conv2d cls_logits_{nullptr};
  torch::nn::Conv2d bbox_pred_{nullptr};
  // conv, cls_logits, bbox_pred
  std::vector<PreparedConv> prepared_;
  c10::ScalarType prepared_dtype_ = c10::kFloat;
};
TORCH_MODULE(RpnHead);

struct RpnOutput {
  std::vector<at::Tensor> proposals;        // per image [P, 4], network-input coordinates
  std::map<std::string, at::Tensor> losses;  // training only: rpn_objectness, rpn_box
};

class RegionProposalNetworkImpl : public torch::nn::Module {
 public:
  explicit RegionProposalNetworkImpl(const RpnConfig& config, int64_t channels);
  // targets: one per image when training (losses computed), else nullptr.
  RpnOutput forward(const ImageBatch& batch, const std::vector<at::Tensor>& features,
                    const std::vector<InstanceTargets>* targets);
  // The head's serving arithmetic (prepared_conv.h), once, at load.
  void prepare(c10::ScalarType dtype) { head_->prepare(dtype); }

 private:
  std::vector<at::Tensor> select_proposals(const at::Tensor& proposals,
                                           const at::Tensor& objectness,
                                           const std::vector<int64_t>& anchors_per_level,
                                           const ImageBatch& batch) const;
  std::map<std::string, at::Tensor> losses(const at::Tensor& anchors,
                                           const at::Tensor& objectness,
                                           const at::Tensor& deltas,
                                           const std::vector<InstanceTargets>& targets) const;

  RpnConfig config_;
  AnchorGenerator anchor_generator_;
  Matcher matcher_;
  RpnHead head_{nullptr};
};
TORCH_MODULE(RegionProposalNetwork);

}  // namespace roiserve::detector
