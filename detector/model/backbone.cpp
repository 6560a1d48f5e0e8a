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

void FeaturePyramidImpl::prepare(c10::ScalarType dtype) {
  prepared_inner_.clear();
  prepared_layer_.clear();
  for (size_t level = 0; level < inner_blocks_->size(); ++level) {
    prepared_inner_.emplace_back(inner_blocks_->at<torch::nn::Conv2dImpl>(level), dtype);
    prepared_layer_.emplace_back(layer_blocks_->at<torch::nn::Conv2dImpl>(level), dtype);
  }
}

at::Tensor FeaturePyramidImpl::inner(int64_t level, const at::Tensor& input, at::Tensor top_down) {
  if (!prepared_inner_.empty() && !is_training() && !at::GradMode::is_enabled()) {
    return prepared_inner_[level](input, {std::move(top_down)});
  }
  at::Tensor lateral = inner_blocks_->at<torch::nn::Conv2dImpl>(level).forward(input);
  return top_down.defined() ? lateral.add_(top_down) : lateral;
}

at::Tensor FeaturePyramidImpl::layer(int64_t level, const at::Tensor& input) {
  if (!prepared_layer_.empty() && !is_training() && !at::GradMode::is_enabled()) {
    return prepared_layer_[level](input);
  }
  return layer_blocks_->at<torch::nn::Conv2dImpl>(level).forward(input);
}

std::vector<at::Tensor> FeaturePyramidImpl::forward(const std::vector<at::Tensor>& stage_outputs) {
  const int64_t levels = static_cast<int64_t>(stage_outputs.size());
  std::vector<at::Tensor> pyramid(levels);
  at::Tensor top_down = inner(levels - 1, stage_outputs[levels - 1], {});
  pyramid[levels - 1] = layer(levels - 1, top_down);
  for (int64_t level = levels - 2; level >= 0; --level) {
    const at::Tensor& stage_output = stage_outputs[level];
    top_down = inner(level, stage_output,
                     at::upsample_nearest2d(top_down, {stage_output.size(2), stage_output.size(3)}));
    pyramid[level] = layer(level, top_down);
  }
  pyramid.push_back(at::max_pool2d(pyramid.back(), {1, 1}, {2, 2}, {0, 0}));
  return pyramid;
}

BackboneImpl::BackboneImpl(const BackboneConfig& config) : out_channels_(config.fpn_channels) {
  body_ = register_module("body", ResNet(config));
  fpn_ = register_module("fpn", FeaturePyramid(body_->stage_out_channels(), config.fpn_channels));
}

void BackboneImpl::prepare(c10::ScalarType dtype) {
  body_->prepare(dtype);
  fpn_->prepare(dtype);
  prepared_ = true;
}

std::vector<at::Tensor> BackboneImpl::forward(const at::Tensor& images) {
  std::vector<at::Tensor> pyramid = fpn_->forward(body_->forward(images));
  if (prepared_ && !is_training() && !at::GradMode::is_enabled()) {
    for (at::Tensor& level : pyramid) level = level.to(at::kFloat);
  }
  return pyramid;
}

}  // namespace roiserve::detector
