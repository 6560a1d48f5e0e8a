// R-FCN's box head: fully convolutional. Per FPN level, a 3x3 conv and two 1x1
// convs produce k*k*(classes + 1) position-sensitive score maps and k*k*4 box
// maps; PSRoIPool (k x k) pools each RoI from its level and average voting
// over the k*k bins gives the class logits and class-agnostic box deltas. No
// per-RoI learned layers.
#include <ATen/ATen.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/conv.h>

#include <optional>

#include "detector/heads/box_head.h"
#include "detector/model/prepared_conv.h"
#include "ops/ops.h"

namespace roiserve::detector {
namespace {

torch::nn::Conv2d head_conv(int64_t in, int64_t out, int64_t kernel, double std) {
  torch::nn::Conv2d layer(torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2));
  torch::nn::init::normal_(layer->weight, 0.0, std);
  torch::nn::init::zeros_(layer->bias);
  return layer;
}

class PsRoiPoolHead : public BoxHead {
 public:
  PsRoiPoolHead(const BoxHeadContext& context, const YAML::Node& params)
      : grid_(head_param_int(params, "grid_size", 7)),
        num_classes_(context.num_classes_with_background) {
    reject_unknown_head_params("ps_roi_pool", params, {"grid_size", "hidden_channels"});
    const int64_t hidden = head_param_int(params, "hidden_channels", context.in_channels);
    reduce_ = register_module("reduce", head_conv(context.in_channels, hidden, 3, 0.01));
    cls_maps_ = register_module("cls_maps", head_conv(hidden, grid_ * grid_ * num_classes_, 1, 0.01));
    box_maps_ = register_module("box_maps", head_conv(hidden, grid_ * grid_ * 4, 1, 0.001));
  }

  at::Tensor pool(const std::vector<at::Tensor>& features, const LevelledRois& rois) override {
    const bool prepared = prepared_.has_value() && !is_training() && !at::GradMode::is_enabled();
    return pool_by_level(features, rois, [this, prepared](const at::Tensor& feature,
                                                          const at::Tensor& r, double scale) {
      const auto [cls_maps, box_maps] = prepared ? prepared_->score_maps(feature) : score_maps(feature);
      const at::Tensor cls = std::get<0>(ops::ps_roi_pool(cls_maps, r, scale, grid_, grid_));
      const at::Tensor box = std::get<0>(ops::ps_roi_pool(box_maps, r, scale, grid_, grid_));
      return at::cat({cls, box}, 1);  // [K, classes + 1 + 4, k, k]
    });
  }

  // The score-map convolutions prepared; the maps come out float32 and NCHW,
  // the layout PSRoIPool computes in.
  void prepare(c10::ScalarType dtype) override {
    prepared_ = PreparedMaps{dtype, PreparedConv(*reduce_, dtype), PreparedConv(*cls_maps_, dtype),
                             PreparedConv(*box_maps_, dtype)};
  }

  BoxPrediction predict(const at::Tensor& pooled) override {
    const at::Tensor votes = pooled.mean({2, 3});
    return {votes.narrow(1, 0, num_classes_), votes.narrow(1, num_classes_, 4)};
  }

 private:
  struct PreparedMaps {
    c10::ScalarType dtype;
    PreparedConv reduce;
    PreparedConv cls_maps;
    PreparedConv box_maps;

    std::pair<at::Tensor, at::Tensor> score_maps(const at::Tensor& feature) const {
      const at::Tensor hidden = reduce(to_prepared_layout(feature, dtype), {{}, true});
      return {cls_maps(hidden).to(at::kFloat).contiguous(), box_maps(hidden).to(at::kFloat).contiguous()};
    }
  };

  std::pair<at::Tensor, at::Tensor> score_maps(const at::Tensor& feature) {
    const at::Tensor hidden = at::relu(reduce_->forward(feature));
    return {cls_maps_->forward(hidden), box_maps_->forward(hidden)};
  }

  int64_t grid_;
  int64_t num_classes_;
  torch::nn::Conv2d reduce_{nullptr};
  torch::nn::Conv2d cls_maps_{nullptr};
  torch::nn::Conv2d box_maps_{nullptr};
  std::optional<PreparedMaps> prepared_;
};

ROISERVE_REGISTER_BOX_HEAD("ps_roi_pool", PsRoiPoolHead);

}  // namespace
}  // namespace roiserve::detector
