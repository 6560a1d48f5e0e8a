#include "detector/model/prepared_linear.h"

#ifdef ROISERVE_ONEDNN
#include "detector/model/onednn/inner_product.h"
#include "detector/model/onednn/runtime.h"
#endif

namespace roiserve::detector {

PreparedLinear::PreparedLinear(const torch::nn::LinearImpl& layer, c10::ScalarType dtype)
    : dtype_(dtype),
      weight_(layer.weight.detach().to(dtype)),
      bias_(layer.bias.detach().to(dtype)) {
#ifdef ROISERVE_ONEDNN
  if (weight_.is_cpu() && onednn::data_type_of(dtype)) {
    onednn_ = std::make_shared<const onednn::InnerProduct>(weight_, bias_);
    weight_.reset();
    bias_.reset();
  }
#endif
}

at::Tensor PreparedLinear::operator()(const at::Tensor& input, bool relu,
                                      c10::ScalarType output_type) const {
#ifdef ROISERVE_ONEDNN
  if (onednn_) return (*onednn_)(input, relu, output_type);
#endif
  at::Tensor output = at::linear(input, weight_, bias_);
  if (relu) output.relu_();
  return output.to(output_type);
}

}  // namespace roiserve::detector
