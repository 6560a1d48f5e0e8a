#pragma once
// Training side of the box heads (torchvision's RoIHeads): ground-truth boxes
// join the proposals, proposals are matched and a class-balanced sample is
// drawn; the Fast R-CNN loss compares a head's predictions with it.
#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <vector>

#include "detector/config/model_config.h"
#include "detector/heads/box_head.h"
#include "detector/model/targets.h"

namespace roiserve::detector {

struct SampledProposals {
  std::vector<at::Tensor> boxes;        // per image [S, 4]
  std::vector<at::Tensor> matched_gt;   // per image [S] int64, index of the matched target
  std::vector<at::Tensor> labels;       // per image [S] int64, 0 = background
  at::Tensor all_labels;                // [sum S]
  at::Tensor regression_targets;        // [sum S, 4]
};

SampledProposals sample_proposals(const std::vector<at::Tensor>& proposals,
                                  const std::vector<InstanceTargets>& targets,
                                  const RoiHeadsConfig& config);

// Cross-entropy over classes + smooth L1 over the foreground's deltas of
// its class (or the shared deltas), normalized by the sample size.
std::map<std::string, at::Tensor> fast_rcnn_losses(const BoxPrediction& prediction,
                                                   const SampledProposals& sample,
                                                   const std::string& prefix);

}  // namespace roiserve::detector
