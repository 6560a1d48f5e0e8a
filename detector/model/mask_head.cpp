#include "detector/model/mask_head.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>

#include "ops/ops.h"

namespace roiserve::detector {
namespace {

template <typename Layer>
Layer kaiming(Layer layer) {
  torch::nn::init::kaiming_normal_(layer->weight, 0.0, torch::kFanOut, torch::kReLU);
  torch::nn::init::zeros_(layer->bias);
  return layer;
}

}  // namespace

MaskHeadImpl::MaskHeadImpl(const std::string& pooler, const MaskConfig& config,
                           int64_t in_channels, int64_t num_classes_with_background)
    : pooler_(pooler), pooled_size_(config.pooled_size), sampling_ratio_(config.sampling_ratio) {
  convs_ = register_module("convs", torch::nn::ModuleList());
  int64_t channels = in_channels;
  for (int64_t out : config.conv_channels) {
    convs_->push_back(
        kaiming(torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, out, 3).padding(1))));
    channels = out;
  }
  upsample_ = register_module(
      "upsample", kaiming(torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(
                      channels, config.predictor_channels, 2)
                                                         .stride(2))));
  logits_ = register_module(
      "logits", kaiming(torch::nn::Conv2d(torch::nn::Conv2dOptions(
                    config.predictor_channels, num_classes_with_background, 1))));
}

at::Tensor MaskHeadImpl::pool(const std::vector<at::Tensor>& features,
                              const LevelledRois& rois) const {
  return pool_by_level(features, rois, [this](const at::Tensor& feature, const at::Tensor& r,
                                              double scale) {
    if (pooler_ == "roi_pool") {
      return std::get<0>(ops::roi_pool(feature, r, scale, pooled_size_, pooled_size_));
    }
    return ops::roi_align(feature, r, scale, pooled_size_, pooled_size_, sampling_ratio_,
                          /*aligned=*/false);
  });
}

void MaskHeadImpl::prepare(c10::ScalarType dtype) {
  prepared_.clear();
  for (const auto& conv : *convs_) prepared_.emplace_back(*conv->as<torch::nn::Conv2dImpl>(), dtype);
  prepared_.emplace_back(*upsample_, dtype);
  prepared_.emplace_back(*logits_, dtype);
  prepared_dtype_ = dtype;
}

at::Tensor MaskHeadImpl::forward(const at::Tensor& pooled) {
  if (!prepared_.empty() && !is_training() && !at::GradMode::is_enabled()) {
    at::Tensor x = to_prepared_layout(pooled, prepared_dtype_);
    for (size_t i = 0; i + 1 < prepared_.size(); ++i) x = prepared_[i](x, {{}, true});
    return prepared_.back()(x).to(at::kFloat);
  }
  at::Tensor x = pooled;
  for (const auto& conv : *convs_) x = conv->as<torch::nn::Conv2dImpl>()->forward(x).relu_();
  x = upsample_->forward(x).relu_();
  return logits_->forward(x);
}

at::Tensor mask_loss(const at::Tensor& logits, const std::vector<at::Tensor>& roi_boxes,
                     const std::vector<at::Tensor>& matched_gt,
                     const std::vector<at::Tensor>& labels,
                     const std::vector<at::Tensor>& gt_masks) {
  const int64_t resolution = logits.size(-1);
  std::vector<at::Tensor> targets;
  for (size_t i = 0; i < roi_boxes.size(); ++i) {
    if (roi_boxes[i].size(0) == 0) continue;
    const at::Tensor rois =
        at::cat({matched_gt[i].to(roi_boxes[i].dtype()).unsqueeze(1), roi_boxes[i]}, 1);
    const at::Tensor masks = gt_masks[i].unsqueeze(1).to(roi_boxes[i].dtype());
    targets.push_back(
        ops::roi_align(masks, rois, 1.0, resolution, resolution, -1, /*aligned=*/false)
            .squeeze(1));
  }
  if (targets.empty()) return logits.sum() * 0;
  const at::Tensor all_labels = at::cat(labels);
  const at::Tensor own_logits =
      logits.index({at::arange(all_labels.size(0), all_labels.options()), all_labels});
  return at::binary_cross_entropy_with_logits(own_logits, at::cat(targets));
}

}  // namespace roiserve::detector
