#pragma once
// Autograd for ps_roi_align; channel_mapping is not differentiable.
#include <torch/autograd.h>

#include <tuple>

#include "ops/autograd/op_handle.h"
#include "ops/ps_roi_align.h"

namespace roiserve::ops::detail {

inline constexpr char kPSRoIAlign[] = "ps_roi_align";
inline constexpr char kPSRoIAlignBackward[] = "_ps_roi_align_backward";

template <const char* Namespace>
class PSRoIAlignFunction : public torch::autograd::Function<PSRoIAlignFunction<Namespace>> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const torch::autograd::Variable& input,
                                                const torch::autograd::Variable& rois,
                                                double spatial_scale, int64_t pooled_height,
                                                int64_t pooled_width, int64_t sampling_ratio) {
    ctx->saved_data["spatial_scale"] = spatial_scale;
    ctx->saved_data["pooled_height"] = pooled_height;
    ctx->saved_data["pooled_width"] = pooled_width;
    ctx->saved_data["sampling_ratio"] = sampling_ratio;
    ctx->saved_data["input_shape"] = input.sizes();
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [output, mapping] = op_handle<Namespace, kPSRoIAlign, decltype(ps_roi_align)>().call(
        input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio);
    ctx->save_for_backward({rois, mapping});
    ctx->mark_non_differentiable({mapping});
    return {output, mapping};
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx, const torch::autograd::variable_list& grad_output) {
    const auto saved = ctx->get_saved_variables();
    const auto input_shape = ctx->saved_data["input_shape"].toIntVector();
    const auto grad_input =
        op_handle<Namespace, kPSRoIAlignBackward, decltype(ps_roi_align_backward)>().call(
            grad_output[0], saved[0], saved[1], ctx->saved_data["spatial_scale"].toDouble(),
            ctx->saved_data["pooled_height"].toInt(), ctx->saved_data["pooled_width"].toInt(),
            ctx->saved_data["sampling_ratio"].toInt(), input_shape[0], input_shape[1],
            input_shape[2], input_shape[3]);
    return {grad_input,
            torch::autograd::Variable(),
            torch::autograd::Variable(),
            torch::autograd::Variable(),
            torch::autograd::Variable(),
            torch::autograd::Variable()};
  }
};

// The Autograd-key kernel of Namespace::ps_roi_align.
template <const char* Namespace>
std::tuple<at::Tensor, at::Tensor> ps_roi_align_autograd(
    const at::Tensor& input, const at::Tensor& rois, double spatial_scale, int64_t pooled_height,
    int64_t pooled_width, int64_t sampling_ratio) {
  auto result = PSRoIAlignFunction<Namespace>::apply(input, rois, spatial_scale, pooled_height,
                                                     pooled_width, sampling_ratio);
  return {result[0], result[1]};
}

}  // namespace roiserve::ops::detail
