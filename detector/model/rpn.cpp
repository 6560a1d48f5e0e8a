#include "detector/model/rpn.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>

#include "detector/model/box_coding.h"
#include "ops/ops.h"

namespace roiserve::detector {
namespace {

const std::vector<double> kRpnBoxWeights{1.0, 1.0, 1.0, 1.0};

torch::nn::Conv2d rpn_conv(int64_t in, int64_t out, int64_t kernel) {
  torch::nn::Conv2d layer(torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2));
  torch::nn::init::normal_(layer->weight, 0.0, 0.01);
  torch::nn::init::zeros_(layer->bias);
  return layer;
}

}  // namespace

RpnHeadImpl::RpnHeadImpl(int64_t channels, int64_t anchors_per_location) {
  conv_ = register_module("conv", rpn_conv(channels, channels, 3));
  cls_logits_ = register_module("cls_logits", rpn_conv(channels, anchors_per_location, 1));
  bbox_pred_ = register_module("bbox_pred", rpn_conv(channels, 4 * anchors_per_location, 1));
}

void RpnHeadImpl::prepare(c10::ScalarType dtype) {
  prepared_ = {PreparedConv(*conv_, dtype), PreparedConv(*cls_logits_, dtype),
               PreparedConv(*bbox_pred_, dtype)};
  prepared_dtype_ = dtype;
}

std::pair<std::vector<at::Tensor>, std::vector<at::Tensor>> RpnHeadImpl::forward(
    const std::vector<at::Tensor>& features) {
  std::vector<at::Tensor> objectness;
  std::vector<at::Tensor> deltas;
  if (!prepared_.empty() && !is_training() && !at::GradMode::is_enabled()) {
    for (const auto& feature : features) {
      const at::Tensor hidden = prepared_[0](to_prepared_layout(feature, prepared_dtype_), {{}, true});
      objectness.push_back(prepared_[1](hidden).to(at::kFloat));
      deltas.push_back(prepared_[2](hidden).to(at::kFloat));
    }
    return {objectness, deltas};
  }
  for (const auto& feature : features) {
    const at::Tensor hidden = conv_->forward(feature).relu_();
    objectness.push_back(cls_logits_->forward(hidden));
    deltas.push_back(bbox_pred_->forward(hidden));
  }
  return {objectness, deltas};
}

RegionProposalNetworkImpl::RegionProposalNetworkImpl(const RpnConfig& config, int64_t channels)
    : config_(config),
      anchor_generator_(config.anchor_sizes, config.aspect_ratios),
      matcher_(config.fg_iou, config.bg_iou, /*allow_low_quality_matches=*/true) {
  head_ = register_module("head", RpnHead(channels, anchor_generator_.anchors_per_location()));
}

RpnOutput RegionProposalNetworkImpl::forward(const ImageBatch& batch,
                                             const std::vector<at::Tensor>& features,
                                             const std::vector<InstanceTargets>* targets) {
  const auto [objectness_maps, delta_maps] = head_->forward(features);
  const int64_t num_images = batch.tensor.size(0);
  const at::Tensor anchors =
      anchor_generator_.grid_anchors(features, batch.tensor.size(2), batch.tensor.size(3));

  // Flatten to the anchors' order: level, row, column, anchor.
  std::vector<at::Tensor> objectness_flat;
  std::vector<at::Tensor> deltas_flat;
  std::vector<int64_t> anchors_per_level;
  for (size_t level = 0; level < objectness_maps.size(); ++level) {
    const at::Tensor& obj = objectness_maps[level];
    const int64_t a = obj.size(1), h = obj.size(2), w = obj.size(3);
    anchors_per_level.push_back(a * h * w);
    objectness_flat.push_back(obj.permute({0, 2, 3, 1}).reshape({num_images, -1}));
    deltas_flat.push_back(delta_maps[level]
                              .view({num_images, a, 4, h, w})
                              .permute({0, 3, 4, 1, 2})
                              .reshape({num_images, -1, 4}));
  }
  const at::Tensor objectness = at::cat(objectness_flat, 1);  // [N, total]
  const at::Tensor deltas = at::cat(deltas_flat, 1);          // [N, total, 4]

  const at::Tensor proposals =
      ops::decode_boxes(deltas.detach().reshape({-1, 4}), anchors.repeat({num_images, 1}),
                        kRpnBoxWeights, kBoxDeltaClip)
          .view({num_images, -1, 4});
  RpnOutput output;
  output.proposals =
      select_proposals(proposals, objectness.detach(), anchors_per_level, batch);
  if (targets != nullptr) output.losses = losses(anchors, objectness, deltas, *targets);
  return output;
}

std::vector<at::Tensor> RegionProposalNetworkImpl::select_proposals(
    const at::Tensor& proposals, const at::Tensor& objectness,
    const std::vector<int64_t>& anchors_per_level, const ImageBatch& batch) const {
  const int64_t pre_nms_top_n =
      is_training() ? config_.pre_nms_top_n_train : config_.pre_nms_top_n_test;
  const int64_t post_nms_top_n =
      is_training() ? config_.post_nms_top_n_train : config_.post_nms_top_n_test;
  const auto long_options = objectness.options().dtype(at::kLong);

  std::vector<at::Tensor> top_indices;
  std::vector<at::Tensor> top_levels;
  int64_t offset = 0;
  for (size_t level = 0; level < anchors_per_level.size(); ++level) {
    const int64_t count = anchors_per_level[level];
    const at::Tensor level_scores = objectness.narrow(1, offset, count);
    const at::Tensor best = std::get<1>(level_scores.topk(std::min(pre_nms_top_n, count), 1));
    top_indices.push_back(best + offset);
    top_levels.push_back(at::full_like(best, static_cast<int64_t>(level), long_options));
    offset += count;
  }
  const at::Tensor indices = at::cat(top_indices, 1);
  const at::Tensor levels = at::cat(top_levels, 1);

  std::vector<at::Tensor> selected;
  for (int64_t i = 0; i < objectness.size(0); ++i) {
    const at::Tensor image_indices = indices[i];
    at::Tensor scores = objectness[i].index_select(0, image_indices).sigmoid();
    at::Tensor boxes = proposals[i].index_select(0, image_indices);
    at::Tensor box_levels = levels[i];
    boxes = ops::clip_boxes_to_image(boxes, batch.image_sizes[i].height, batch.image_sizes[i].width);
    at::Tensor keep = ops::remove_small_boxes(boxes, config_.min_size);
    keep = keep.index_select(0, at::nonzero(scores.index_select(0, keep) >= config_.score_threshold)
                                    .squeeze(1));
    boxes = boxes.index_select(0, keep);
    scores = scores.index_select(0, keep);
    box_levels = box_levels.index_select(0, keep);
    keep = ops::batched_nms(boxes, scores, box_levels, config_.nms_iou);
    keep = keep.narrow(0, 0, std::min(post_nms_top_n, keep.size(0)));
    selected.push_back(boxes.index_select(0, keep));
  }
  return selected;
}

std::map<std::string, at::Tensor> RegionProposalNetworkImpl::losses(
    const at::Tensor& anchors, const at::Tensor& objectness, const at::Tensor& deltas,
    const std::vector<InstanceTargets>& targets) const {
  std::vector<at::Tensor> sampled_positive;
  std::vector<at::Tensor> sampled;
  std::vector<at::Tensor> labels_all;
  std::vector<at::Tensor> regression_targets;
  const int64_t num_anchors = anchors.size(0);
  for (size_t i = 0; i < targets.size(); ++i) {
    const at::Tensor& gt_boxes = targets[i].boxes;
    at::Tensor labels;
    at::Tensor matched_boxes;
    if (gt_boxes.size(0) == 0) {
      labels = at::zeros({num_anchors}, anchors.options());
      matched_boxes = at::zeros_like(anchors);
    } else {
      const at::Tensor matches = matcher_(ops::box_iou(gt_boxes, anchors));
      matched_boxes = gt_boxes.index_select(0, matches.clamp_min(0));
      labels = (matches >= 0).to(at::kFloat);
      labels.masked_fill_(matches == kBetweenThresholds, -1.0);
    }
    const auto [positive, negative] =
        sample_balanced(labels, config_.batch_size_per_image, config_.positive_fraction);
    const int64_t image_offset = static_cast<int64_t>(i) * num_anchors;
    sampled_positive.push_back(positive + image_offset);
    sampled.push_back(at::cat({positive, negative}) + image_offset);
    labels_all.push_back(labels);
    regression_targets.push_back(ops::encode_boxes(matched_boxes, anchors, kRpnBoxWeights));
  }
  const at::Tensor positive = at::cat(sampled_positive);
  const at::Tensor all = at::cat(sampled);
  const at::Tensor labels = at::cat(labels_all);
  const at::Tensor targets_flat = at::cat(regression_targets);
  const at::Tensor box_loss =
      at::smooth_l1_loss(deltas.reshape({-1, 4}).index_select(0, positive),
                         targets_flat.index_select(0, positive), at::Reduction::Sum,
                         kSmoothL1Beta) /
      std::max<int64_t>(all.numel(), 1);
  const at::Tensor objectness_loss = at::binary_cross_entropy_with_logits(
      objectness.reshape(-1).index_select(0, all), labels.index_select(0, all));
  return {{"rpn_objectness", objectness_loss}, {"rpn_box", box_loss}};
}

}  // namespace roiserve::detector
