// Fast R-CNN's box head: RoIPool (max over quantized bins) on the RoI's FPN
// level -> fc6 -> fc7 -> class + box.
#include <ATen/ATen.h>

#include "detector/heads/box_head.h"
#include "detector/heads/fast_rcnn_mlp.h"
#include "ops/ops.h"

namespace roiserve::detector {
namespace {

class RoiPoolHead : public BoxHead {
 public:
  RoiPoolHead(const BoxHeadContext& context, const YAML::Node& params)
      : pooled_size_(head_param_int(params, "pooled_size", 7)) {
    reject_unknown_head_params("roi_pool", params, {"pooled_size", "representation_size"});
    mlp_ = register_module(
        "mlp", FastRcnnMlp(context.in_channels * pooled_size_ * pooled_size_,
                           head_param_int(params, "representation_size", 1024),
                           context.num_classes_with_background));
  }

  at::Tensor pool(const std::vector<at::Tensor>& features, const LevelledRois& rois) override {
    return pool_by_level(features, rois, [this](const at::Tensor& feature, const at::Tensor& r,
                                                double scale) {
      return std::get<0>(ops::roi_pool(feature, r, scale, pooled_size_, pooled_size_));
    });
  }

  BoxPrediction predict(const at::Tensor& pooled) override { return mlp_->forward(pooled); }
  void prepare(c10::ScalarType dtype) override { mlp_->prepare(dtype); }

 private:
  int64_t pooled_size_;
  FastRcnnMlp mlp_{nullptr};
};

ROISERVE_REGISTER_BOX_HEAD("roi_pool", RoiPoolHead);

}  // namespace
}  // namespace roiserve::detector
