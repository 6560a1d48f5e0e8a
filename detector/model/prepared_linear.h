#pragma once
// A fully connected layer prepared once, at load, for serving: its weight and
// bias in the compute dtype (float32 or bfloat16), and the ReLU that follows
// it fused where the backend can. On the CPU, where the build has oneDNN
// (ROISERVE_ONEDNN), oneDNN runs it with its weight reordered once into its
// kernel's layout (onednn/inner_product.h); elsewhere ATen's linear does.
#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>

#include <memory>

namespace roiserve::detector {
namespace onednn {
class InnerProduct;
}

class PreparedLinear {
 public:
  PreparedLinear(const torch::nn::LinearImpl& layer, c10::ScalarType dtype);

  c10::ScalarType dtype() const { return dtype_; }
  // relu(input weight^T + bias), the ReLU where asked: input [rows, in] in the
  // compute dtype, output [rows, out] in `output_type`.
  at::Tensor operator()(const at::Tensor& input, bool relu, c10::ScalarType output_type) const;

 private:
  c10::ScalarType dtype_;
  at::Tensor weight_;  // undefined when oneDNN serves the layer
  at::Tensor bias_;
  std::shared_ptr<const onednn::InnerProduct> onednn_;
};

}  // namespace roiserve::detector
