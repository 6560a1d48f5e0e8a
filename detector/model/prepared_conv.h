#pragma once
// A convolution prepared once, at load, for serving: the frozen BatchNorm
// that follows it folded into its weight and bias, and the weight in the
// compute dtype (float32 or bfloat16) and channels-last. ATen runs such a
// convolution on the CPU through oneDNN, whose NHWC kernels read channels-last
// activations as they are and write channels-last outputs, so a chain of them
// reorders no activation between layers and no weight per call (see
// docs/ARCHITECTURE.md, "Serving arithmetic", for the measurements behind the
// choice). Inputs are expected in the same dtype, channels-last.
#include <ATen/ATen.h>
#include <torch/nn/modules/conv.h>

#include <vector>

#include "detector/model/batch_norm.h"

namespace roiserve::detector {

class PreparedConv {
 public:
  PreparedConv() = default;
  // norm: the BatchNorm applied to the convolution's output, folded in.
  PreparedConv(const torch::nn::Conv2dImpl& conv, c10::ScalarType dtype,
               const BatchNorm2dImpl* norm = nullptr);
  // Kernel equal to stride, no padding (what Mask R-CNN upsamples with).
  PreparedConv(const torch::nn::ConvTranspose2dImpl& conv, c10::ScalarType dtype);

  at::Tensor operator()(const at::Tensor& input) const;

 private:
  at::Tensor empty_output(const at::Tensor& input) const;

  at::Tensor weight_;
  at::Tensor bias_;
  std::vector<int64_t> stride_;
  std::vector<int64_t> padding_;
  std::vector<int64_t> dilation_;
  int64_t groups_ = 1;
  int64_t pixel_shuffle_ = 1;  // > 1: a transposed convolution, as a 1 x 1 one and a shuffle
};

// A feature map as prepared layers read it: `dtype`, channels-last.
at::Tensor to_prepared_layout(const at::Tensor& input, c10::ScalarType dtype);

}  // namespace roiserve::detector
