#pragma once
// Autograd for roi_align: forward below the autograd key, backward through the
// registered backward op (so it runs on whatever device holds the tensors).
#include <torch/autograd.h>

#include "ops/autograd/op_handle.h"
#include "ops/roi_align.h"

namespace roiserve::ops::detail {

inline constexpr char kRoIAlign[] = "roi_align";
inline constexpr char kRoIAlignBackward[] = "_roi_align_backward";

template <const char* Namespace>
class RoIAlignFunction : public torch::autograd::Function<RoIAlignFunction<Namespace>> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const torch::autograd::Variable& input,
                                                const torch::autograd::Variable& rois,
                                                double spatial_scale, int64_t pooled_height,
                                                int64_t pooled_width, int64_t sampling_ratio,
                                                bool aligned) {
    ctx->saved_data["spatial_scale"] = spatial_scale;
    ctx->saved_data["pooled_height"] = pooled_height;
    ctx->saved_data["pooled_width"] = pooled_width;
    ctx->saved_data["sampling_ratio"] = sampling_ratio;
    ctx->saved_data["aligned"] = aligned;
    ctx->saved_data["input_shape"] = input.sizes();
    ctx->save_for_backward({rois});
    at::AutoDispatchBelowADInplaceOrView guard;
    return {op_handle<Namespace, kRoIAlign, decltype(roi_align)>().call(
        input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned)};
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx, const torch::autograd::variable_list& grad_output) {
    const auto rois = ctx->get_saved_variables()[0];
    const auto input_shape = ctx->saved_data["input_shape"].toIntVector();
    const auto grad_input =
        op_handle<Namespace, kRoIAlignBackward, decltype(roi_align_backward)>().call(
            grad_output[0], rois, ctx->saved_data["spatial_scale"].toDouble(),
            ctx->saved_data["pooled_height"].toInt(), ctx->saved_data["pooled_width"].toInt(),
            input_shape[0], input_shape[1], input_shape[2], input_shape[3],
            ctx->saved_data["sampling_ratio"].toInt(), ctx->saved_data["aligned"].toBool());
    return {grad_input,
            torch::autograd::Variable(),
            torch::autograd::Variable(),
            torch::autograd::Variable(),
            torch::autograd::Variable(),
            torch::autograd::Variable(),
            torch::autograd::Variable()};
  }
};

// The Autograd-key kernel of Namespace::roi_align.
template <const char* Namespace>
at::Tensor roi_align_autograd(const at::Tensor& input, const at::Tensor& rois, double spatial_scale,
                              int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio,
                              bool aligned) {
  return RoIAlignFunction<Namespace>::apply(input, rois, spatial_scale, pooled_height, pooled_width,
                                            sampling_ratio, aligned)[0];
}

}  // namespace roiserve::ops::detail
