#pragma once
// ResNet body (stride 32) returning the outputs of its four stages (C2..C5),
// with torchvision's structure and parameter names (conv1, bn1, layer1.0.conv1...).
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include <vector>

#include "detector/config/model_config.h"
#include "detector/model/batch_norm.h"

namespace roiserve::detector {

class ResNetImpl : public torch::nn::Module {
 public:
  explicit ResNetImpl(const BackboneConfig& config);
  // image batch [N, 3, H, W] -> C2..C5 at strides 4, 8, 16, 32.
  std::vector<at::Tensor> forward(const at::Tensor& images);
  const std::vector<int64_t>& stage_out_channels() const { return stage_out_channels_; }

 private:
  torch::nn::Conv2d conv1_{nullptr};
  BatchNorm2d bn1_{nullptr};
  std::vector<torch::nn::Sequential> stages_;
  std::vector<int64_t> stage_out_channels_;
};
TORCH_MODULE(ResNet);

}  // namespace roiserve::detector
