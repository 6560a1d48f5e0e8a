#pragma once
// Autograd for spp_roi_pool; the argmax output is not differentiable.
#include <torch/autograd.h>

#include <tuple>

#include "ops/autograd/op_handle.h"
#include "ops/spp_roi_pool.h"

namespace roiserve::ops::detail {

inline constexpr char kSppRoIPool[] = "spp_roi_pool";
inline constexpr char kSppRoIPoolBackward[] = "_spp_roi_pool_backward";

template <const char* Namespace>
class SppRoIPoolFunction : public torch::autograd::Function<SppRoIPoolFunction<Namespace>> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const torch::autograd::Variable& input,
                                                const torch::autograd::Variable& rois,
                                                double spatial_scale, c10::IntArrayRef levels) {
    ctx->saved_data["spatial_scale"] = spatial_scale;
    ctx->saved_data["levels"] = levels;
    ctx->saved_data["input_shape"] = input.sizes();
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [output, argmax] = op_handle<Namespace, kSppRoIPool, decltype(spp_roi_pool)>().call(
        input, rois, spatial_scale, levels);
    ctx->save_for_backward({rois, argmax});
    ctx->mark_non_differentiable({argmax});
    return {output, argmax};
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx, const torch::autograd::variable_list& grad_output) {
    const auto saved = ctx->get_saved_variables();
    const auto input_shape = ctx->saved_data["input_shape"].toIntVector();
    const auto levels = ctx->saved_data["levels"].toIntVector();
    const auto grad_input =
        op_handle<Namespace, kSppRoIPoolBackward, decltype(spp_roi_pool_backward)>().call(
            grad_output[0], saved[0], saved[1], ctx->saved_data["spatial_scale"].toDouble(), levels,
            input_shape[0], input_shape[1], input_shape[2], input_shape[3]);
    return {grad_input, torch::autograd::Variable(), torch::autograd::Variable(),
            torch::autograd::Variable()};
  }
};

// The Autograd-key kernel of Namespace::spp_roi_pool.
template <const char* Namespace>
std::tuple<at::Tensor, at::Tensor> spp_roi_pool_autograd(const at::Tensor& input,
                                                         const at::Tensor& rois,
                                                         double spatial_scale,
                                                         c10::IntArrayRef levels) {
  auto result = SppRoIPoolFunction<Namespace>::apply(input, rois, spatial_scale, levels);
  return {result[0], result[1]};
}

}  // namespace roiserve::ops::detail
