#include "detector/model/prepared_conv.h"

#include <stdexcept>
#include <type_traits>

#ifdef ROISERVE_ONEDNN
#include "detector/model/onednn/convolution.h"
#include "detector/model/onednn/runtime.h"
#endif

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
  choose_backend();
}

// A transposed convolution whose kernel equals its stride (Mask R-CNN's 2 x 2,
// stride 2 upsampling) writes each output pixel from one input pixel: a 1 x 1
// convolution to out x k x k channels, then a pixel shuffle. Prepared that way
// because it is one GEMM, and because LibTorch 1.13's oneDNN path runs a
// bfloat16 transposed convolution as a plain strided one (a 14 x 14 input
// gave 7 x 7).
PreparedConv::PreparedConv(const torch::nn::ConvTranspose2dImpl& conv, c10::ScalarType dtype)
    : stride_{1, 1}, padding_{0, 0}, dilation_{1, 1} {
  const at::Tensor weight = conv.weight.detach();  // [in, out, k, k]
  const int64_t kernel = weight.size(2);
  const std::vector<int64_t> stride = to_vector(conv.options.stride());
  const std::vector<int64_t> padding = explicit_padding(conv.options.padding());
  const std::vector<int64_t> output_padding = to_vector(conv.options.output_padding());
  const std::vector<int64_t> dilation = to_vector(conv.options.dilation());
  if (weight.size(3) != kernel || stride != std::vector<int64_t>{kernel, kernel} ||
      padding != std::vector<int64_t>{0, 0} || output_padding != std::vector<int64_t>{0, 0} ||
      dilation != std::vector<int64_t>{1, 1} || conv.options.groups() != 1) {
    throw std::invalid_argument(
        "a prepared transposed convolution needs a square kernel equal to its stride, no "
        "padding, dilation or groups");
  }
  weight_ = weight.permute({1, 2, 3, 0})
                .reshape({-1, weight.size(0), 1, 1})
                .to(dtype)
                .contiguous(at::MemoryFormat::ChannelsLast);
  bias_ = conv.bias.detach().repeat_interleave(kernel * kernel).to(dtype);
  pixel_shuffle_ = kernel;
  choose_backend();
}

void PreparedConv::choose_backend() {
  weight_sizes_ = weight_.sizes().vec();
  options_ = weight_.options().memory_format(at::MemoryFormat::ChannelsLast);
#ifdef ROISERVE_ONEDNN
  if (weight_.is_cpu() && onednn::data_type_of(weight_.scalar_type()) && groups_ == 1) {
    onednn_ = std::make_shared<const onednn::Convolution>(weight_, bias_, stride_, padding_, dilation_);
    weight_.reset();
    bias_.reset();
  }
#endif
}

// LibTorch 1.13 refuses to convolve an empty batch (a mask head given no
// detections) with channels-last weights: its empty-batch path views the
// weight as contiguous. The answer is an empty output of the right shape.
at::Tensor PreparedConv::empty_output(const at::Tensor& input) const {
  std::vector<int64_t> sizes{0, weight_sizes_[0]};
  for (size_t axis = 0; axis < 2; ++axis) {
    const int64_t extent = input.size(static_cast<int64_t>(axis) + 2);
    const int64_t kernel = weight_sizes_[axis + 2];
    sizes.push_back((extent + 2 * padding_[axis] - dilation_[axis] * (kernel - 1) - 1) /
                        stride_[axis] +
                    1);
  }
  return at::empty(sizes, options_);
}

at::Tensor PreparedConv::operator()(const at::Tensor& input, ConvPostOps post_ops) const {
  if (post_ops.add.defined() && pixel_shuffle_ > 1) {
    throw std::invalid_argument("a prepared transposed convolution fuses no addend");
  }
  at::Tensor output;
  if (input.size(0) == 0) {
    output = empty_output(input);
#ifdef ROISERVE_ONEDNN
  } else if (onednn_) {
    output = (*onednn_)(input, std::move(post_ops.add), post_ops.relu);
#endif
  } else {
    output = at::convolution(input, weight_, bias_, stride_, padding_, dilation_,
                             /*transposed=*/false, {0, 0}, groups_);
    if (post_ops.add.defined()) output.add_(post_ops.add);
    if (post_ops.relu) output.relu_();
  }
  return pixel_shuffle_ > 1 ? at::pixel_shuffle(output, pixel_shuffle_) : output;
}

std::string prepared_layer_library(const c10::Device& device) {
#ifdef ROISERVE_ONEDNN
  if (device.is_cpu()) return "oneDNN " + onednn::version();
#endif
  (void)device;
  return "ATen";
}

at::Tensor to_prepared_layout(const at::Tensor& input, c10::ScalarType dtype) {
  return input.to(dtype).contiguous(at::MemoryFormat::ChannelsLast);
}

}  // namespace roiserve::detector
