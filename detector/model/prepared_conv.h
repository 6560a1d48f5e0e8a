#pragma once
// A convolution prepared once, at load, for serving: the frozen BatchNorm
// that follows it folded into its weight and bias, the weight in the compute
// dtype (float32 or bfloat16), and the ReLU and residual add that follow it
// fused where the backend can. On the CPU, where the build has oneDNN
// (ROISERVE_ONEDNN), oneDNN runs it with its weight reordered once per kernel
// layout (onednn/convolution.h); elsewhere (CUDA, or a LibTorch with a oneDNN
// of its own) ATen runs it with a channels-last weight. Either way activations
// enter and leave channels-last, in the compute dtype (see
// docs/ARCHITECTURE.md, "Serving arithmetic", for the measurements behind the
// choice).
#include <ATen/ATen.h>
#include <torch/nn/modules/conv.h>

#include <memory>
#include <string>
#include <vector>

#include "detector/model/batch_norm.h"

namespace roiserve::detector {
namespace onednn {
class Convolution;
}

// What a prepared convolution applies to its own output: relu(conv + add),
// each where asked. `add` (shaped like the output, in the compute dtype) is
// consumed: its storage becomes the output's when nothing else holds it.
struct ConvPostOps {
  at::Tensor add;
  bool relu = false;
};

class PreparedConv {
 public:
  PreparedConv() = default;
  // norm: the BatchNorm applied to the convolution's output, folded in.
  PreparedConv(const torch::nn::Conv2dImpl& conv, c10::ScalarType dtype,
               const BatchNorm2dImpl* norm = nullptr);
  // Kernel equal to stride, no padding (what Mask R-CNN upsamples with).
  PreparedConv(const torch::nn::ConvTranspose2dImpl& conv, c10::ScalarType dtype);

  at::Tensor operator()(const at::Tensor& input, ConvPostOps post_ops = {}) const;

 private:
  // Hands the layer to oneDNN where the build and the device allow it.
  void choose_backend();
  at::Tensor empty_output(const at::Tensor& input) const;

  at::Tensor weight_;  // channels-last, for ATen; undefined when oneDNN serves the layer
  at::Tensor bias_;
  std::shared_ptr<const onednn::Convolution> onednn_;
  std::vector<int64_t> weight_sizes_;  // [out, in, kh, kw] of the convolution as run
  c10::TensorOptions options_;
  std::vector<int64_t> stride_;
  std::vector<int64_t> padding_;
  std::vector<int64_t> dilation_;
  int64_t groups_ = 1;
  int64_t pixel_shuffle_ = 1;  // > 1: a transposed convolution, as a 1 x 1 one and a shuffle
};

// The library prepared layers run on on `device`: "oneDNN <version>" on the
// CPU where the build has it, else "ATen" (for the server's log).
std::string prepared_layer_library(const c10::Device& device);

// A feature map as prepared layers read it: `dtype`, channels-last.
at::Tensor to_prepared_layout(const at::Tensor& input, c10::ScalarType dtype);

}  // namespace roiserve::detector
