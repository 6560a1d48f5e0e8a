#include "detector/heads/fast_rcnn_mlp.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>

namespace roiserve::detector {

FastRcnnMlpImpl::FastRcnnMlpImpl(int64_t in_features, int64_t representation_size,
                                 int64_t num_classes_with_background) {
  fc6_ = register_module("fc6", torch::nn::Linear(in_features, representation_size));
  fc7_ = register_module("fc7", torch::nn::Linear(representation_size, representation_size));
  cls_score_ = register_module("cls_score",
                               torch::nn::Linear(representation_size, num_classes_with_background));
  bbox_pred_ = register_module(
      "bbox_pred", torch::nn::Linear(representation_size, 4 * num_classes_with_background));
  // Small initial predictions (Detectron's initialisation): training starts
  // from uniform class scores and unchanged proposals.
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(cls_score_->weight, 0.0, 0.01);
  torch::nn::init::normal_(bbox_pred_->weight, 0.0, 0.001);
  torch::nn::init::zeros_(cls_score_->bias);
  torch::nn::init::zeros_(bbox_pred_->bias);
}

void FastRcnnMlpImpl::prepare(c10::ScalarType dtype) {
  prepared_.clear();
  for (const auto& layer : {fc6_, fc7_, cls_score_, bbox_pred_}) prepared_.emplace_back(*layer, dtype);
}

BoxPrediction FastRcnnMlpImpl::forward(const at::Tensor& pooled) {
  if (!prepared_.empty() && !is_training() && !at::GradMode::is_enabled()) {
    at::Tensor x = pooled.flatten(1).to(prepared_[0].dtype());
    x = prepared_[0](x, /*relu=*/true, x.scalar_type());
    x = prepared_[1](x, /*relu=*/true, x.scalar_type());
    return {prepared_[2](x, /*relu=*/false, at::kFloat), prepared_[3](x, /*relu=*/false, at::kFloat)};
  }
  at::Tensor x = pooled.flatten(1);
  x = fc6_->forward(x).relu_();
  x = fc7_->forward(x).relu_();
  return {cls_score_->forward(x), bbox_pred_->forward(x)};
}

}  // namespace roiserve::detector
