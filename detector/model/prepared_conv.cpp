#include "detector/model/prepared_conv.h"

#include <stdexcept>
#include <type_traits>

namespace roiserve::detector {
namespace {

template <size_t D>
std::vector<int64_t> to_vector(const torch::ExpandingArray<D>& values) {
  return std::vector<int64_t>(values->begin(), values->end());
}

// A convolution's padding option is a c10::variant in LibTorch 1.13 and a
// std::variant in 2.x: `visit`, unqualified, is found by argument-dependent
// lookup in either. Our layers give explicit padding; "valid" and "same" are
// refused rather than guessed.
template <typename Padding>
std::vector<int64_t> explicit_padding(const Padding& padding) {
  return visit(
      [](const auto& value) -> std::vector<int64_t> {
        if constexpr (std::is_same_v<std::decay_t<decltype(value)>, torch::ExpandingArray<2>>) {
          return to_vector(value);
        } else {
          throw std::invalid_argument("a prepared convolution needs explicit padding");
        }
      },
      padding);
}

}  // namespace

PreparedConv::PreparedConv(const torch::nn::Conv2dImpl& conv, c10::ScalarType dtype,
                           const BatchNorm2dImpl* norm)
    : stride_(to_vector(conv.options.stride())),
      padding_(explicit_padding(conv.options.padding())),
      dilation_(to_vector(conv.options.dilation())),
      groups_(conv.options.groups()) {
  at::Tensor weight = conv.weight.detach();
  at::Tensor bias = conv.bias.defined() ? conv.bias.detach()
                                        : at::zeros({weight.size(0)}, weight.options());
  if (norm != nullptr) {
    const auto [scale, shift] = norm->frozen_affine();
    weight = weight * scale.view({-1, 1, 1, 1});
    bias = bias * scale + shift;
  }
  weight_ = weight.to(dtype).contiguous(at::MemoryFormat::ChannelsLast);
  bias_ = bias.to(dtype);
}

PreparedConv::PreparedConv(const torch::nn::ConvTranspose2dImpl& conv, c10::ScalarType dtype)
    : weight_(conv.weight.detach().to(dtype).contiguous(at::MemoryFormat::ChannelsLast)),
      bias_(conv.bias.detach().to(dtype)),
      stride_(to_vector(conv.options.stride())),
      padding_(explicit_padding(conv.options.padding())),
      dilation_(to_vector(conv.options.dilation())),
      output_padding_(to_vector(conv.options.output_padding())),
      groups_(conv.options.groups()),
      transposed_(true) {}

at::Tensor PreparedConv::operator()(const at::Tensor& input) const {
  return at::convolution(input, weight_, bias_, stride_, padding_, dilation_, transposed_,
                         transposed_ ? output_padding_ : std::vector<int64_t>{0, 0}, groups_);
}

at::Tensor to_prepared_layout(const at::Tensor& input, c10::ScalarType dtype) {
  return input.to(dtype).contiguous(at::MemoryFormat::ChannelsLast);
}

}  // namespace roiserve::detector
