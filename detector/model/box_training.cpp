#include "detector/model/box_training.h"

#include <ATen/ATen.h>

#include "detector/model/box_coding.h"
#include "detector/model/matcher.h"
#include "ops/ops.h"

namespace roiserve::detector {

SampledProposals sample_proposals(const std::vector<at::Tensor>& proposals,
                                  const std::vector<InstanceTargets>& targets,
                                  const RoiHeadsConfig& config) {
  const Matcher matcher(config.fg_iou, config.bg_iou, /*allow_low_quality_matches=*/false);
  SampledProposals sample;
  std::vector<at::Tensor> regression_targets;
  for (size_t i = 0; i < proposals.size(); ++i) {
    const InstanceTargets& target = targets[i];
    const at::Tensor candidates = at::cat({proposals[i], target.boxes.to(proposals[i].dtype())});
    at::Tensor matches;
    at::Tensor labels;
    if (target.boxes.size(0) == 0) {
      matches = at::zeros({candidates.size(0)}, candidates.options().dtype(at::kLong));
      labels = at::zeros_like(matches);
    } else {
      const at::Tensor raw = matcher(ops::box_iou(target.boxes, candidates));
      matches = raw.clamp_min(0);
      labels = target.labels.index_select(0, matches);
      labels.masked_fill_(raw == kBelowLowThreshold, 0);
      labels.masked_fill_(raw == kBetweenThresholds, -1);
    }
    const auto [positive, negative] =
        sample_balanced(labels, config.batch_size_per_image, config.positive_fraction);
    const at::Tensor keep = at::cat({positive, negative});
    const at::Tensor boxes = candidates.index_select(0, keep);
    const at::Tensor matched = matches.index_select(0, keep);
    const at::Tensor gt_boxes = target.boxes.size(0) == 0
                                    ? at::zeros_like(boxes)
                                    : target.boxes.index_select(0, matched);
    sample.boxes.push_back(boxes);
    sample.matched_gt.push_back(matched);
    sample.labels.push_back(labels.index_select(0, keep));
    regression_targets.push_back(ops::encode_boxes(gt_boxes, boxes, config.box_coder_weights));
  }
  sample.all_labels = at::cat(sample.labels);
  sample.regression_targets = at::cat(regression_targets);
  return sample;
}

std::map<std::string, at::Tensor> fast_rcnn_losses(const BoxPrediction& prediction,
                                                   const SampledProposals& sample,
                                                   const std::string& prefix) {
  const at::Tensor& labels = sample.all_labels;
  const at::Tensor classification = at::cross_entropy_loss(prediction.class_logits, labels);
  const at::Tensor positive = at::nonzero(labels > 0).squeeze(1);
  const int64_t rois = prediction.box_deltas.size(0);
  const at::Tensor deltas = prediction.box_deltas.reshape({rois, -1, 4});
  const at::Tensor classes =
      deltas.size(1) == 1 ? at::zeros_like(positive) : labels.index_select(0, positive);
  const at::Tensor positive_deltas = deltas.index({positive, classes});
  const at::Tensor box = at::smooth_l1_loss(positive_deltas,
                                            sample.regression_targets.index_select(0, positive),
                                            at::Reduction::Sum, kSmoothL1Beta) /
                         std::max<int64_t>(labels.numel(), 1);
  return {{prefix + "/cls", classification}, {prefix + "/box", box}};
}

}  // namespace roiserve::detector
