// SPP-net's box head: spatial pyramid max pooling (levels 1x1, 2x2, 4x4 by
// default) of the RoI on its FPN level -> fc6 -> fc7 -> class + box.
#include <ATen/ATen.h>

#include "detector/heads/box_head.h"
#include "detector/heads/fast_rcnn_mlp.h"
#include "ops/ops.h"

namespace roiserve::detector {
namespace {

int64_t pyramid_bins(const std::vector<int64_t>& levels) {
  int64_t bins = 0;
  for (int64_t level : levels) bins += level * level;
  return bins;
}

class SppHead : public BoxHead {
 public:
  SppHead(const BoxHeadContext& context, const YAML::Node& params)
      : pyramid_levels_(head_param_ints(params, "pyramid_levels", {1, 2, 4})) {
    reject_unknown_head_params("spp", params, {"pyramid_levels", "representation_size"});
    mlp_ = register_module(
        "mlp", FastRcnnMlp(context.in_channels * pyramid_bins(pyramid_levels_),
                           head_param_int(params, "representation_size", 1024),
                           context.num_classes_with_background));
  }

  at::Tensor pool(const std::vector<at::Tensor>& features, const LevelledRois& rois) override {
    return pool_by_level(features, rois, [this](const at::Tensor& feature, const at::Tensor& r,
                                                double scale) {
      return std::get<0>(ops::spp_roi_pool(feature, r, scale, pyramid_levels_));
    });
  }

  BoxPrediction predict(const at::Tensor& pooled) override { return mlp_->forward(pooled); }
  void prepare(c10::ScalarType dtype) override { mlp_->prepare(dtype); }

 private:
  std::vector<int64_t> pyramid_levels_;
  FastRcnnMlp mlp_{nullptr};
};

ROISERVE_REGISTER_BOX_HEAD("spp", SppHead);

}  // namespace
}  // namespace roiserve::detector
