#include "detector/model/detector.h"

#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <c10/core/InferenceMode.h>
#include <torch/nn/modules/container/moduledict.h>

#include <stdexcept>

#include "detector/model/box_postprocess.h"
#include "detector/model/box_training.h"
#include "detector/model/device.h"
#include "detector/model/roi_levels.h"

namespace roiserve::detector {
namespace {

void append(std::vector<at::Tensor>& to, const std::vector<at::Tensor>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

std::string join(const std::vector<std::string>& names) {
  std::string joined;
  for (const auto& name : names) joined += (joined.empty() ? "" : ", ") + name;
  return joined;
}

// Targets follow the images when the model resizes its input.
std::vector<InstanceTargets> resize_targets(const std::vector<InstanceTargets>& targets,
                                            const ImageBatch& batch) {
  std::vector<InstanceTargets> resized = targets;
  for (size_t i = 0; i < targets.size(); ++i) {
    const ImageSize from = batch.original_sizes[i];
    const ImageSize to = batch.image_sizes[i];
    if (from.height == to.height && from.width == to.width) continue;
    resized[i].boxes = rescale_boxes(targets[i].boxes, from, to);
    if (targets[i].masks.defined() && targets[i].masks.size(0) > 0) {
      resized[i].masks = at::upsample_nearest2d(targets[i].masks.unsqueeze(1).to(at::kFloat),
                                                {to.height, to.width})
                             .squeeze(1)
                             .to(at::kByte);
    }
  }
  return resized;
}

// Bad ground truth would otherwise surface as an out-of-bounds error deep in a loss.
void check_targets(const std::vector<at::Tensor>& images,
                   const std::vector<InstanceTargets>& targets, int64_t num_classes) {
  if (images.size() != targets.size()) {
    throw std::invalid_argument("training batch has " + std::to_string(images.size()) +
                                " images but " + std::to_string(targets.size()) + " targets");
  }
  for (size_t i = 0; i < targets.size(); ++i) {
    const InstanceTargets& target = targets[i];
    const std::string where = "training image " + std::to_string(i) + ": ";
    if (target.boxes.dim() != 2 || target.boxes.size(1) != 4 || target.labels.dim() != 1 ||
        target.labels.size(0) != target.boxes.size(0)) {
      throw std::invalid_argument(where + "targets need boxes [G, 4] and labels [G]");
    }
    if (target.labels.numel() > 0 && (target.labels.min().item<int64_t>() < 1 ||
                                      target.labels.max().item<int64_t>() > num_classes)) {
      throw std::invalid_argument(where + "labels must lie in 1.." + std::to_string(num_classes) +
                                  " (the model's classes)");
    }
    if (target.masks.defined() &&
        (target.masks.dim() != 3 || target.masks.size(0) != target.boxes.size(0) ||
         target.masks.size(1) != images[i].size(1) || target.masks.size(2) != images[i].size(2))) {
      throw std::invalid_argument(where + "masks must be [G, H, W] with the image's H and W");
    }
  }
}

// Makes the detector's GPU the current device for the scope, so that kernels
// go there whatever the calling thread's current device (a model on cuda:1
// served from a thread whose current device is cuda:0). Nothing on the CPU.
struct OnDevice {
  explicit OnDevice(c10::Device device) {
    if (!device.is_cpu()) guard.reset_device(device);
  }
  c10::OptionalDeviceGuard guard;
};

// One image's detections on the CPU; its mask patches, views of one copy.
void image_to_cpu(ImageDetections& image) {
  c10::InferenceMode inference;
  image.boxes = image.boxes.to(at::kCPU);
  image.scores = image.scores.to(at::kCPU);
  image.labels = image.labels.to(at::kCPU);
  if (image.network_boxes.defined()) image.network_boxes = image.network_boxes.to(at::kCPU);
  if (image.masks.empty() || image.masks.front().probabilities.is_cpu()) return;
  std::vector<at::Tensor> flat;
  flat.reserve(image.masks.size());
  for (const MaskPatch& patch : image.masks) flat.push_back(patch.probabilities.reshape({-1}));
  const at::Tensor all = at::cat(flat).to(at::kCPU);
  int64_t offset = 0;
  for (MaskPatch& patch : image.masks) {
    const int64_t count = patch.probabilities.numel();
    patch.probabilities = all.narrow(0, offset, count)
                              .view({patch.probabilities.size(0), patch.probabilities.size(1)});
    offset += count;
  }
}

}  // namespace

void to_cpu(std::vector<ImageDetections>& detections) {
  for (ImageDetections& image : detections) image_to_cpu(image);
}

DetectorImpl::DetectorImpl(ModelConfig config)
    : config_(std::move(config)), preprocessor_(config_.preprocess) {
  validate_model_config(config_);
  backbone_ = register_module("backbone", Backbone(config_.backbone));
  const int64_t channels = backbone_->out_channels();
  rpn_ = register_module("rpn", RegionProposalNetwork(config_.rpn, channels));
  box_heads_ = register_module("box_heads", torch::nn::ModuleDict());
  for (const auto& entry : config_.roi_heads.box_heads) build_box_head(entry.first);
  mask_heads_ = register_module("mask_heads", torch::nn::ModuleDict());
  if (config_.roi_heads.has_masks) {
    for (const auto& pooler : config_.roi_heads.mask.poolers) build_mask_head(pooler);
  }
}

void DetectorImpl::build_box_head(const std::string& name) {
  const BoxHeadConfig& head = config_.roi_heads.box_heads.at(name);
  const BoxHeadContext context{backbone_->out_channels(), config_.num_classes_with_background()};
  box_heads_->update({{name, create_box_head(head.type, context, head.params)}});
}

void DetectorImpl::build_mask_head(const std::string& pooler) {
  mask_heads_->update({{pooler, MaskHead(pooler, config_.roi_heads.mask, backbone_->out_channels(),
                                         config_.num_classes_with_background())
                                    .ptr()}});
}

void DetectorImpl::reinitialize_heads(const TrainingPlan& plan) {
  check_plan(plan);
  for (const auto& name : plan.box_heads) build_box_head(name);
  for (const auto& pooler : plan.mask_poolers) build_mask_head(pooler);
}

void DetectorImpl::check_plan(const TrainingPlan& plan) const {
  for (const auto& name : plan.box_heads) {
    if (!box_heads_->contains(name)) {
      throw std::invalid_argument("the training plan names box head '" + name + "', which model '" +
                                  config_.name + "' lacks (it has: " + join(box_head_names()) +
                                  ")");
    }
  }
  for (const auto& pooler : plan.mask_poolers) {
    if (!mask_heads_->contains(pooler)) {
      throw std::invalid_argument("the training plan names mask pooler '" + pooler +
                                  "', which model '" + config_.name + "' lacks");
    }
  }
}

void DetectorImpl::to(torch::Device device, torch::Dtype dtype, bool non_blocking) {
  torch::nn::Module::to(device, dtype, non_blocking);
  device_ = parameters().empty() ? device : parameters().front().device();
  if (precision_) prepare(precision_->requested);
}

void DetectorImpl::to(torch::Device device, bool non_blocking) {
  torch::nn::Module::to(device, non_blocking);
  device_ = parameters().empty() ? device : parameters().front().device();
  if (precision_) prepare(precision_->requested);
}

PrecisionChoice DetectorImpl::prepare(Precision requested) {
  const PrecisionChoice choice = effective_precision(requested, device_);
  const c10::ScalarType dtype = compute_dtype(choice.effective);
  const OnDevice on_device(device_);
  backbone_->prepare(dtype);
  rpn_->prepare(dtype);
  for (const auto& name : box_head_names()) box_head(name).prepare(dtype);
  for (const auto& pooler : mask_pooler_names()) mask_head(pooler).prepare(dtype);
  precision_ = choice;
  return choice;
}

std::vector<std::string> DetectorImpl::box_head_names() const {
  return box_heads_->keys();
}

std::vector<std::string> DetectorImpl::mask_pooler_names() const {
  return config_.roi_heads.has_masks ? config_.roi_heads.mask.poolers : std::vector<std::string>{};
}

void DetectorImpl::check_request(const HeadRequest& request) const {
  if (!request.box_head.empty() && !box_heads_->contains(request.box_head)) {
    throw std::invalid_argument("model '" + config_.name + "' has no box head '" +
                                request.box_head + "' (it has: " + join(box_head_names()) + ")");
  }
  if (request.masks && !request.mask_pooler.empty() &&
      !mask_heads_->contains(request.mask_pooler)) {
    throw std::invalid_argument(
        "model '" + config_.name + "' has no mask pooler '" + request.mask_pooler +
        "' (it has: " + (mask_heads_->empty() ? "none" : join(mask_pooler_names())) + ")");
  }
}

BoxHead& DetectorImpl::box_head(const std::string& name) {
  return *std::dynamic_pointer_cast<BoxHead>((*box_heads_)[name]);
}

MaskHeadImpl& DetectorImpl::mask_head(const std::string& pooler) {
  return *(*mask_heads_)[pooler]->as<MaskHeadImpl>();
}

SharedStages DetectorImpl::run_shared(const std::vector<at::Tensor>& images) {
  c10::InferenceMode inference;
  const OnDevice on_device(device_);
  SharedStages shared;
  {
    StageTimer timer(shared.timings, "preprocess", device_);
    std::vector<at::Tensor> uploaded;
    uploaded.reserve(images.size());
    for (const at::Tensor& image : images) uploaded.push_back(image.to(device_));
    shared.batch = preprocessor_(uploaded);
  }
  {
    StageTimer timer(shared.timings, "backbone", device_);
    shared.features = backbone_->forward(shared.batch.tensor);
  }
  {
    StageTimer timer(shared.timings, "rpn", device_);
    shared.proposals = rpn_->forward(shared.batch, shared.features, nullptr).proposals;
  }
  return shared;
}

std::vector<ImageDetections> DetectorImpl::run_box_head(const SharedStages& shared,
                                                        const HeadRequest& request,
                                                        StageTimings& timings) {
  check_request(request);
  c10::InferenceMode inference;
  const OnDevice on_device(device_);
  const std::string& head_name =
      request.box_head.empty() ? config_.roi_heads.default_box_head : request.box_head;
  BoxHead& head = box_head(head_name);
  PostprocessConfig postprocess = config_.postprocess;
  if (request.score_threshold) postprocess.score_threshold = *request.score_threshold;
  if (request.nms_iou) postprocess.nms_iou = *request.nms_iou;
  if (request.max_detections) postprocess.max_detections = *request.max_detections;

  at::Tensor pooled;
  {
    StageTimer timer(timings, "box_pool", device_);
    pooled = head.pool(shared.features,
                       assign_roi_levels(shared.proposals, config_.roi_heads.level_mapper));
  }
  BoxPrediction prediction;
  {
    StageTimer timer(timings, "box_head", device_);
    prediction = head.predict(pooled);
  }
  std::vector<ImageDetections> detections;
  {
    StageTimer timer(timings, "postprocess", device_);
    const std::vector<BoxDetections> boxes =
        postprocess_boxes(prediction, shared.proposals, shared.batch.image_sizes,
                          config_.roi_heads.box_coder_weights, postprocess);
    for (size_t i = 0; i < boxes.size(); ++i) {
      const ImageSize original = shared.batch.original_sizes[i];
      detections.push_back({rescale_boxes(boxes[i].boxes, shared.batch.image_sizes[i], original),
                            boxes[i].scores,
                            boxes[i].labels,
                            {},
                            original,
                            boxes[i].boxes});
    }
  }
  return detections;
}

void DetectorImpl::run_mask_head(const SharedStages& shared, const std::string& mask_pooler,
                                 std::vector<ImageDetections>& detections, StageTimings& timings) {
  if (mask_heads_->empty()) {
    throw std::invalid_argument("model '" + config_.name + "' has no mask head");
  }
  const std::string& pooler =
      mask_pooler.empty() ? config_.roi_heads.mask.poolers.front() : mask_pooler;
  if (!mask_heads_->contains(pooler)) {
    throw std::invalid_argument("model '" + config_.name + "' has no mask pooler '" + pooler +
                                "' (it has: " + join(mask_pooler_names()) + ")");
  }
  c10::InferenceMode inference;
  const OnDevice on_device(device_);
  MaskHeadImpl& masks = mask_head(pooler);
  std::vector<at::Tensor> network_boxes;
  std::vector<at::Tensor> labels_per_image;
  for (const auto& image : detections) {
    network_boxes.push_back(image.network_boxes);
    labels_per_image.push_back(image.labels);
  }
  at::Tensor pooled;
  {
    StageTimer timer(timings, "mask_pool", device_);
    pooled = masks.pool(shared.features,
                        assign_roi_levels(network_boxes, config_.roi_heads.level_mapper));
  }
  at::Tensor probabilities;
  {
    StageTimer timer(timings, "mask_head", device_);
    const at::Tensor logits = masks.forward(pooled);
    const at::Tensor labels = at::cat(labels_per_image);
    probabilities = logits.index({at::arange(labels.size(0), labels.options()), labels}).sigmoid();
  }
  StageTimer timer(timings, "paste", device_);
  int64_t offset = 0;
  for (auto& image : detections) {
    const int64_t count = image.boxes.size(0);
    image.masks =
        paste_masks(probabilities.narrow(0, offset, count), image.boxes, image.image_size);
    offset += count;
  }
}

std::vector<ImageDetections> DetectorImpl::run_head(const SharedStages& shared,
                                                    const HeadRequest& request,
                                                    StageTimings& timings) {
  std::vector<ImageDetections> detections = run_box_head(shared, request, timings);
  const bool masks = request.masks && !mask_heads_->empty();
  if (masks) run_mask_head(shared, request.mask_pooler, detections, timings);
  if (!device_.is_cpu()) {
    StageTimer timer(timings, masks ? "paste" : "postprocess");
    to_cpu(detections);
  }
  return detections;
}

std::vector<ImageDetections> DetectorImpl::detect(const std::vector<at::Tensor>& images,
                                                  const HeadRequest& request,
                                                  StageTimings& timings) {
  check_request(request);
  std::vector<ImageDetections> detections;
  {
    StageTimer total(timings, "total", device_);
    SharedStages shared = run_shared(images);
    for (const auto& [stage, ms] : shared.timings.entries()) timings.add(stage, ms);
    detections = run_head(shared, request, timings);
  }
  return detections;
}

std::map<std::string, at::Tensor> DetectorImpl::losses(const std::vector<at::Tensor>& images,
                                                       const std::vector<InstanceTargets>& targets,
                                                       const TrainingPlan& plan) {
  check_plan(plan);
  check_targets(images, targets, config_.num_classes());
  const ImageBatch batch = preprocessor_(images);
  const std::vector<InstanceTargets> resized = resize_targets(targets, batch);
  std::map<std::string, at::Tensor> losses;
  std::vector<at::Tensor> features;
  std::vector<at::Tensor> proposals;
  if (plan.train_shared) {
    features = backbone_->forward(batch.tensor);
    RpnOutput rpn = rpn_->forward(batch, features, &resized);
    proposals = std::move(rpn.proposals);
    losses.insert(rpn.losses.begin(), rpn.losses.end());
  } else {
    torch::NoGradGuard frozen;
    features = backbone_->forward(batch.tensor);
    proposals = rpn_->forward(batch, features, nullptr).proposals;
  }

  const SampledProposals sample = sample_proposals(proposals, resized, config_.roi_heads);
  const LevelledRois rois = assign_roi_levels(sample.boxes, config_.roi_heads.level_mapper);
  for (const auto& name : plan.box_heads) {
    BoxHead& head = box_head(name);
    const auto head_losses =
        fast_rcnn_losses(head.predict(head.pool(features, rois)), sample, name);
    losses.insert(head_losses.begin(), head_losses.end());
  }
  if (plan.mask_poolers.empty()) return losses;

  std::vector<at::Tensor> mask_boxes, mask_matched, mask_labels, gt_masks;
  for (size_t i = 0; i < sample.boxes.size(); ++i) {
    at::Tensor foreground = at::nonzero(sample.labels[i] > 0).squeeze(1);
    if (plan.mask_rois_per_image > 0 && foreground.size(0) > plan.mask_rois_per_image) {
      foreground = foreground.index_select(0, at::randperm(foreground.size(0), foreground.options())
                                                  .narrow(0, 0, plan.mask_rois_per_image));
    }
    mask_boxes.push_back(sample.boxes[i].index_select(0, foreground));
    mask_matched.push_back(sample.matched_gt[i].index_select(0, foreground));
    mask_labels.push_back(sample.labels[i].index_select(0, foreground));
    gt_masks.push_back(resized[i].masks);
  }
  const LevelledRois mask_rois = assign_roi_levels(mask_boxes, config_.roi_heads.level_mapper);
  for (const auto& pooler : plan.mask_poolers) {
    MaskHeadImpl& head = mask_head(pooler);
    losses["mask_" + pooler] = mask_loss(head.forward(head.pool(features, mask_rois)), mask_boxes,
                                         mask_matched, mask_labels, gt_masks);
  }
  return losses;
}

std::vector<at::Tensor> DetectorImpl::trainable_parameters(const TrainingPlan& plan) {
  std::vector<at::Tensor> parameters;
  if (plan.train_shared) {
    append(parameters, backbone_->parameters());
    append(parameters, rpn_->parameters());
  }
  for (const auto& name : plan.box_heads) append(parameters, (*box_heads_)[name]->parameters());
  for (const auto& pooler : plan.mask_poolers)
    append(parameters, (*mask_heads_)[pooler]->parameters());
  return parameters;
}

}  // namespace roiserve::detector
