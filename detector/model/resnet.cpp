#include "detector/model/resnet.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>

#include <optional>

namespace roiserve::detector {
namespace {

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  auto options = torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(
      false);
  torch::nn::Conv2d layer(options);
  torch::nn::init::kaiming_normal_(layer->weight, 0.0, torch::kFanOut, torch::kReLU);
  return layer;
}

// Basic (two 3x3) or bottleneck (1x1, 3x3 with the stride, 1x1 expanding 4x)
// residual block, as torchvision's ResNet v1.5.
class ResidualBlockImpl : public torch::nn::Module {
 public:
  ResidualBlockImpl(const std::string& block, int64_t in, int64_t width, int64_t stride,
                    double eps) {
    const bool bottleneck = block == "bottleneck";
    const int64_t out = bottleneck ? width * 4 : width;
    if (bottleneck) {
      add_conv_bn(in, width, 1, 1, eps);
      add_conv_bn(width, width, 3, stride, eps);
      add_conv_bn(width, out, 1, 1, eps);
    } else {
      add_conv_bn(in, width, 3, stride, eps);
      add_conv_bn(width, out, 3, 1, eps);
    }
    // Each block starts as the identity (Goyal et al., "Accurate, Large
    // Minibatch SGD"): training from scratch is stable at a high learning rate.
    torch::NoGradGuard no_grad;
    norms_.back()->named_parameters(false)["weight"].zero_();
    if (stride != 1 || in != out) {
      downsample_conv_ = conv(in, out, 1, stride);
      downsample_norm_ = BatchNorm2d(out, eps);
      // torchvision's names: downsample.0 (conv), downsample.1 (norm).
      register_module("downsample", torch::nn::Sequential(downsample_conv_, downsample_norm_));
    }
  }

  void prepare(c10::ScalarType dtype) {
    prepared_.clear();
    for (size_t i = 0; i < convs_.size(); ++i) prepared_.emplace_back(*convs_[i], dtype, norms_[i].get());
    if (downsample_conv_) prepared_downsample_ = PreparedConv(*downsample_conv_, dtype, downsample_norm_.get());
  }

  // In place wherever a tensor is a temporary (torchvision's Bottleneck adds
  // and rectifies in place too): the same arithmetic, fewer feature maps
  // allocated.
  at::Tensor forward(const at::Tensor& input) {
    at::Tensor x = input;
    for (size_t i = 0; i < convs_.size(); ++i) {
      x = norms_[i]->forward_inplace(convs_[i]->forward(x));
      if (i + 1 < convs_.size()) x = at::relu_(x);
    }
    if (!downsample_conv_) return x.add_(input).relu_();
    return x.add_(downsample_norm_->forward_inplace(downsample_conv_->forward(input))).relu_();
  }

  // Serving, once prepare() has run: the residual add and the last ReLU are
  // the last convolution's post-ops, and the block's input, taken by value,
  // is the identity they add in place when the caller hands it over.
  at::Tensor forward_prepared(at::Tensor input) const {
    const ConvPostOps relu{{}, true};
    at::Tensor x = prepared_.front()(input, relu);
    for (size_t i = 1; i + 1 < prepared_.size(); ++i) x = prepared_[i](x, relu);
    at::Tensor identity = downsample_conv_ ? (*prepared_downsample_)(input) : std::move(input);
    return prepared_.back()(x, {std::move(identity), true});
  }

 private:
  void add_conv_bn(int64_t in, int64_t out, int64_t kernel, int64_t stride, double eps) {
    const std::string index = std::to_string(convs_.size() + 1);
    convs_.push_back(register_module("conv" + index, conv(in, out, kernel, stride)));
    norms_.push_back(register_module("bn" + index, BatchNorm2d(out, eps)));
  }

  std::vector<torch::nn::Conv2d> convs_;
  std::vector<BatchNorm2d> norms_;
  torch::nn::Conv2d downsample_conv_{nullptr};
  BatchNorm2d downsample_norm_{nullptr};
  std::vector<PreparedConv> prepared_;
  std::optional<PreparedConv> prepared_downsample_;
};
TORCH_MODULE(ResidualBlock);

}  // namespace

ResNetImpl::ResNetImpl(const BackboneConfig& config) {
  conv1_ = register_module("conv1", conv(3, config.stem_channels, 7, 2));
  bn1_ = register_module("bn1", BatchNorm2d(config.stem_channels, config.norm_eps));
  const int64_t expansion = config.block == "bottleneck" ? 4 : 1;
  int64_t in = config.stem_channels;
  for (size_t stage = 0; stage < 4; ++stage) {
    torch::nn::Sequential blocks;
    const int64_t width = config.stage_widths[stage];
    for (int64_t b = 0; b < config.blocks_per_stage[stage]; ++b) {
      const int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
      blocks->push_back(ResidualBlock(config.block, in, width, stride, config.norm_eps));
      in = width * expansion;
    }
    stages_.push_back(register_module("layer" + std::to_string(stage + 1), blocks));
    stage_out_channels_.push_back(in);
  }
}

void ResNetImpl::prepare(c10::ScalarType dtype) {
  prepared_conv1_ = PreparedConv(*conv1_, dtype, bn1_.get());
  prepared_dtype_ = dtype;
  for (auto& stage : stages_) {
    for (auto& block : *stage) block.get<ResidualBlock>()->prepare(dtype);
  }
}

std::vector<at::Tensor> ResNetImpl::forward(const at::Tensor& images) {
  const bool prepared = prepared_conv1_ && !is_training() && !at::GradMode::is_enabled();
  at::Tensor x = prepared
                     ? (*prepared_conv1_)(to_prepared_layout(images, prepared_dtype_), {{}, true})
                     : bn1_->forward_inplace(conv1_->forward(images)).relu_();
  x = at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
  std::vector<at::Tensor> stage_outputs;
  for (auto& stage : stages_) {
    if (prepared) {
      for (auto& block : *stage) x = block.get<ResidualBlockImpl>().forward_prepared(std::move(x));
    } else {
      x = stage->forward(x);
    }
    stage_outputs.push_back(x);
  }
  return stage_outputs;
}

}  // namespace roiserve::detector
