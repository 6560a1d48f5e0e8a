#pragma once
// Fast R-CNN's per-RoI head: two fully connected layers (fc6, fc7) and the
// class / per-class box predictors. Shared by the RoIPool, RoIAlign and SPP
// heads, which differ only in how they pool.
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include "detector/heads/box_head.h"
#include "detector/model/prepared_linear.h"

#include <vector>

namespace roiserve::detector {

class FastRcnnMlpImpl : public torch::nn::Module {
 public:
  FastRcnnMlpImpl(int64_t in_features, int64_t representation_size,
                  int64_t num_classes_with_background);
  // pooled [K, ...] (flattened here) -> float32 logits and per-class deltas.
  BoxPrediction forward(const at::Tensor& pooled);
  // Serving in `dtype` (eval mode without autograd): every layer prepared
  // (model/prepared_linear.h), its ReLU fused.
  void prepare(c10::ScalarType dtype);

 private:
  torch::nn::Linear fc6_{nullptr};
  torch::nn::Linear fc7_{nullptr};
  torch::nn::Linear cls_score_{nullptr};
  torch::nn::Linear bbox_pred_{nullptr};
  // fc6, fc7, cls_score, bbox_pred; empty until prepared
  std::vector<PreparedLinear> prepared_;
};
TORCH_MODULE(FastRcnnMlp);

}  // namespace roiserve::detector
