#pragma once
// The shared backbone: ResNet + Feature Pyramid Network. Outputs P2..P6
// (strides 4..64) with the same channel count; P6 is P5 max-pooled with
// stride 2, as torchvision's LastLevelMaxPool. RoI heads pool from P2..P5.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include <vector>

#include "detector/config/model_config.h"
#include "detector/model/prepared_conv.h"
#include "detector/model/resnet.h"

namespace roiserve::detector {

inline constexpr int64_t kNumFeatureLevels = 5;   // P2..P6
inline constexpr int64_t kNumPooledLevels = 4;    // P2..P5
inline constexpr int64_t kFirstLevel = 2;         // P2: stride 2^2

class FeaturePyramidImpl : public torch::nn::Module {
 public:
  FeaturePyramidImpl(const std::vector<int64_t>& in_channels, int64_t out_channels);
  // C2..C5 -> P2..P6 (once prepared, serving: in the prepared dtype).
  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& stage_outputs);
  void prepare(c10::ScalarType dtype);

 private:
  // One level's lateral (inner) convolution, plus `top_down` where defined
  // (consumed: see ConvPostOps), or its output (layer) convolution.
  at::Tensor inner(int64_t level, const at::Tensor& input, at::Tensor top_down);
  at::Tensor layer(int64_t level, const at::Tensor& input);

  torch::nn::ModuleList inner_blocks_;
  torch::nn::ModuleList layer_blocks_;
  std::vector<PreparedConv> prepared_inner_;
  std::vector<PreparedConv> prepared_layer_;
};
TORCH_MODULE(FeaturePyramid);

class BackboneImpl : public torch::nn::Module {
 public:
  explicit BackboneImpl(const BackboneConfig& config);
  // Float32 P2..P6; once prepared, channels-last (the RoI operators' fast
  // layout).
  std::vector<at::Tensor> forward(const at::Tensor& images);
  int64_t out_channels() const { return out_channels_; }
  // Serving arithmetic (prepared_conv.h): BatchNorm folded, weights in `dtype`
  // and channels-last; inference in eval mode without autograd then runs the
  // prepared convolutions. Called once, at load, after the weights moved.
  void prepare(c10::ScalarType dtype);

 private:
  ResNet body_{nullptr};
  FeaturePyramid fpn_{nullptr};
  int64_t out_channels_;
  bool prepared_ = false;
};
TORCH_MODULE(Backbone);

}  // namespace roiserve::detector
