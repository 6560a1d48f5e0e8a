#pragma once
// The two-stage detector: backbone + RPN shared by every RoI head, the box
// heads and mask heads the model config lists. Inference is split so that
// several heads can run on the same features and the same proposals
// (run_shared once, run_head per head); detect() does both.
//
// Thread safety: after eval(), the const-free forward methods only read the
// weights, so one Detector serves concurrent calls.
//
// Device: the detector holds the device its weights live on (to() moves them,
// once, at load). Inference takes images on any device and moves them there;
// preprocessing, backbone, RPN, heads and mask pasting run on it, and every
// stage's time ends with a synchronisation of it (StageTimer). run_head() and
// detect() hand back detections on the CPU; run_box_head() and run_mask_head()
// leave theirs on the device, for more mask poolers to use (to_cpu() brings
// them back).
#include <c10/core/Device.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/moduledict.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "detector/config/model_config.h"
#include "detector/heads/box_head.h"
#include "detector/model/backbone.h"
#include "detector/model/image_batch.h"
#include "detector/model/mask_head.h"
#include "detector/model/paste_masks.h"
#include "detector/model/precision.h"
#include "detector/model/rpn.h"
#include "detector/model/stage_timings.h"
#include "detector/model/targets.h"

namespace roiserve::detector {

// The per-request choices; unset fields take the model's defaults.
struct HeadRequest {
  std::string box_head;     // empty: the model's default head
  std::string mask_pooler;  // empty: the first pooler the model has
  bool masks = true;        // false: boxes only (mask stages skipped)
  std::optional<double> score_threshold;
  std::optional<double> nms_iou;
  std::optional<int64_t> max_detections;
};

// Detections of one image, in that image's pixel coordinates. Every tensor is
// on the detector's device out of run_box_head / run_mask_head and on the CPU
// out of run_head / detect / to_cpu.
struct ImageDetections {
  at::Tensor boxes;              // [D, 4] float32 (x1, y1, x2, y2)
  at::Tensor scores;             // [D] float32, decreasing
  at::Tensor labels;             // [D] int64, 1..num_classes (index into class_names + 1)
  std::vector<MaskPatch> masks;  // D patches, or empty when masks were not requested
  ImageSize image_size;
  at::Tensor network_boxes;  // [D, 4]: the boxes in network-input coordinates
};

// Moves detections to the CPU in place: boxes, scores and labels, and each
// image's mask patches in one copy (so that a GPU is waited for once per
// image, not once per mask). Nothing happens to tensors already there.
void to_cpu(std::vector<ImageDetections>& detections);

// What every head reads: the preprocessed batch, FPN features, proposals.
struct SharedStages {
  ImageBatch batch;
  std::vector<at::Tensor> features;   // P2..P6
  std::vector<at::Tensor> proposals;  // per image [P, 4], network-input coordinates
  StageTimings timings;               // preprocess, backbone, rpn
};

struct TrainingPlan {
  bool train_shared = true;  // false: backbone and RPN frozen (stage 2)
  std::vector<std::string> box_heads;
  std::vector<std::string> mask_poolers;
  int64_t mask_rois_per_image = 0;  // > 0: at most this many foreground RoIs per image
  // The plan's heads start from fresh weights even when the model came from a
  // bundle (a controlled comparison of heads trained side by side).
  bool fresh_heads = false;
};

class DetectorImpl : public torch::nn::Module {
 public:
  explicit DetectorImpl(ModelConfig config);

  const ModelConfig& config() const { return config_; }
  // Where the weights live and inference runs (the CPU until to() moves it).
  c10::Device device() const { return device_; }
  // Module::to, keeping device() in step: "cuda" without an index becomes the
  // GPU the weights went to.
  using torch::nn::Module::to;
  void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Device device, bool non_blocking = false) override;
  // Prepares serving in `requested` precision (bf16 falls back to fp32 on a
  // CPU without native bf16; the choice says so): convolutions with their
  // BatchNorm folded, weights in the compute dtype and channels-last
  // (prepared_conv.h). Once, at load, after to(): a later to() prepares again.
  // Inference in eval mode without autograd then takes the prepared path;
  // training and an unprepared detector run the plain modules.
  PrecisionChoice prepare(Precision requested);
  // The precision prepare() chose; unset before it ran (the plain path).
  const std::optional<PrecisionChoice>& precision() const { return precision_; }
  std::vector<std::string> box_head_names() const;
  std::vector<std::string> mask_pooler_names() const;
  // Throws std::invalid_argument naming the unknown head or pooler.
  void check_request(const HeadRequest& request) const;

  // images: [3, H, W] uint8 RGB, on any device (moved to device() as part of
  // preprocessing).
  SharedStages run_shared(const std::vector<at::Tensor>& images);
  // The box stages of a request (box_pool, box_head, postprocess): detections
  // without masks.
  std::vector<ImageDetections> run_box_head(const SharedStages& shared, const HeadRequest& request,
                                            StageTimings& timings);
  // The mask stages (mask_pool, mask_head, paste) for detections of
  // run_box_head, with one pooler (empty: the model's first); several poolers
  // can mask the same detections.
  void run_mask_head(const SharedStages& shared, const std::string& mask_pooler,
                     std::vector<ImageDetections>& detections, StageTimings& timings);
  // run_box_head, then run_mask_head when masks are requested and the model
  // has them; the detections come back on the CPU (the copy counts in the
  // last stage that ran: postprocess, or paste).
  std::vector<ImageDetections> run_head(const SharedStages& shared, const HeadRequest& request,
                                        StageTimings& timings);
  // run_shared + run_head; timings get every stage and "total".
  std::vector<ImageDetections> detect(const std::vector<at::Tensor>& images,
                                      const HeadRequest& request, StageTimings& timings);

  // Training forward: images [3, H, W] uint8 and their targets (network-input
  // coordinates = image coordinates, as training does not resize). Returns
  // the named losses of the plan.
  std::map<std::string, at::Tensor> losses(const std::vector<at::Tensor>& images,
                                           const std::vector<InstanceTargets>& targets,
                                           const TrainingPlan& plan);

  // Parameters of the parts a plan trains.
  std::vector<at::Tensor> trainable_parameters(const TrainingPlan& plan);
  // Fresh weights for the box heads and mask poolers of the plan.
  void reinitialize_heads(const TrainingPlan& plan);

 private:
  void build_box_head(const std::string& name);
  void build_mask_head(const std::string& pooler);
  // Throws std::invalid_argument for a head or pooler the model lacks.
  void check_plan(const TrainingPlan& plan) const;
  BoxHead& box_head(const std::string& name);
  MaskHeadImpl& mask_head(const std::string& pooler);

  ModelConfig config_;
  c10::Device device_{c10::kCPU};
  std::optional<PrecisionChoice> precision_;
  Preprocessor preprocessor_;
  Backbone backbone_{nullptr};
  RegionProposalNetwork rpn_{nullptr};
  torch::nn::ModuleDict box_heads_{nullptr};
  torch::nn::ModuleDict mask_heads_{nullptr};
};
TORCH_MODULE(Detector);

}  // namespace roiserve::detector
