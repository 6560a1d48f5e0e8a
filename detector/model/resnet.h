#pragma once
// ResNet body (stride 32) returning the outputs of its four stages (C2..C5),
// with torchvision's structure and parameter names (conv1, bn1, layer1.0.conv1...).
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include <optional>
#include <vector>

#include "detector/config/model_config.h"
#include "detector/model/batch_norm.h"
#include "detector/model/prepared_conv.h"

namespace roiserve::detector {

class ResNetImpl : public torch::nn::Module {
 public:
  explicit ResNetImpl(const BackboneConfig& config);
  // image batch [N, 3, H, W] -> C2..C5 at strides 4, 8, 16, 32.
  // Once prepare() has run, serving (eval mode, no autograd) goes through the
  // prepared convolutions and returns C2..C5 in their dtype, channels-last.
  std::vector<at::Tensor> forward(const at::Tensor& images);
  const std::vector<int64_t>& stage_out_channels() const { return stage_out_channels_; }
  // Every convolution with its BatchNorm folded in, computing in `dtype`.
  void prepare(c10::ScalarType dtype);

 private:
  torch::nn::Conv2d conv1_{nullptr};
  BatchNorm2d bn1_{nullptr};
  std::vector<torch::nn::Sequential> stages_;
  std::optional<PreparedConv> prepared_conv1_;
  c10::ScalarType prepared_dtype_ = c10::kFloat;
  std::vector<int64_t> stage_out_channels_;
};
TORCH_MODULE(ResNet);

}  // namespace roiserve::detector
