#include "detector/model/backbone.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/conv.h>

namespace roiserve::detector {
namespace {

torch::nn::Conv2d fpn_conv(int64_t in, int64_t out, int64_t kernel) {
  torch::nn::Conv2d layer(torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2));
  torch::nn::init::kaiming_uniform_(layer->weight, 1.0);
  torch::nn::init::zeros_(layer->bias);
  return layer;
}

}  // namespace

FeaturePyramidImpl::FeaturePyramidImpl(const std::vector<int64_t>& in_channels,
                                       int64_t out_channels) {
  inner_blocks_ = register_module("inner_blocks", torch::nn::ModuleList());
  layer_blocks_ = register_module("layer_blocks", torch::nn::ModuleList());
  for (int64_t in : in_channels) {
    inner_blocks_->push_back(fpn_conv(in, out_channels, 1));
    layer_blocks_->push_back(fpn_conv(out_channels, out_channels, 3));
  }
}

std::vector<at::Tensor> FeaturePyramidImpl::forward(const std::vector<at::Tensor>& stage_outputs) {
  const int64_t levels = static_cast<int64_t>(stage_outputs.size());
  std::vector<at::Tensor> pyramid(levels);
  at::Tensor top_down = inner_blocks_->at<torch::nn::Conv2dImpl>(levels - 1).forward(
      stage_outputs[levels - 1]);
  pyramid[levels - 1] = layer_blocks_->at<torch::nn::Conv2dImpl>(levels - 1).forward(top_down);
  for (int64_t level = levels - 2; level >= 0; --level) {
    at::Tensor lateral = inner_blocks_->at<torch::nn::Conv2dImpl>(level).forward(stage_outputs[level]);
    top_down = lateral.add_(at::upsample_nearest2d(top_down, {lateral.size(2), lateral.size(3)}));
    pyramid[level] = layer_blocks_->at<torch::nn::Conv2dImpl>(level).forward(top_down);
  }
  pyramid.push_back(at::max_pool2d(pyramid.back(), {1, 1}, {2, 2}, {0, 0}));
  return pyramid;
}

BackboneImpl::BackboneImpl(const BackboneConfig& config) : out_channels_(config.fpn_channels) {
  body_ = register_module("body", ResNet(config));
  fpn_ = register_module("fpn", FeaturePyramid(body_->stage_out_channels(), config.fpn_channels));
}

std::vector<at::Tensor> BackboneImpl::forward(const at::Tensor& images) {
  return fpn_->forward(body_->forward(images));
}

}  // namespace roiserve::detector
