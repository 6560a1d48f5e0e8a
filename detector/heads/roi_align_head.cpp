// Mask R-CNN's box head: multi-scale RoIAlign (aligned=False, as torchvision's
// detection models) -> fc6 -> fc7 -> class + box.
#include <ATen/ATen.h>

#include "detector/heads/box_head.h"
#include "detector/heads/fast_rcnn_mlp.h"
#include "ops/ops.h"

namespace roiserve::detector {
namespace {

class RoiAlignHead : public BoxHead {
 public:
  RoiAlignHead(const BoxHeadContext& context, const YAML::Node& params)
      : pooled_size_(head_param_int(params, "pooled_size", 7)),
        sampling_ratio_(head_param_int(params, "sampling_ratio", 2)) {
    reject_unknown_head_params("roi_align", params,
                               {"pooled_size", "sampling_ratio", "representation_size"});
    mlp_ = register_module(
        "mlp", FastRcnnMlp(context.in_channels * pooled_size_ * pooled_size_,
                           head_param_int(params, "representation_size", 1024),
                           context.num_classes_with_background));
  }

  at::Tensor pool(const std::vector<at::Tensor>& features, const LevelledRois& rois) override {
    return pool_by_level(features, rois, [this](const at::Tensor& feature, const at::Tensor& r,
                                                double scale) {
      return ops::roi_align(feature, r, scale, pooled_size_, pooled_size_, sampling_ratio_,
                            /*aligned=*/false);
    });
  }

  BoxPrediction predict(const at::Tensor& pooled) override { return mlp_->forward(pooled); }
  void prepare(c10::ScalarType dtype) override { mlp_->prepare(dtype); }

 private:
  int64_t pooled_size_;
  int64_t sampling_ratio_;
  FastRcnnMlp mlp_{nullptr};
};

ROISERVE_REGISTER_BOX_HEAD("roi_align", RoiAlignHead);

}  // namespace
}  // namespace roiserve::detector
