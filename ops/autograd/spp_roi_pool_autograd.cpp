// Autograd for spp_roi_pool; the argmax output is not differentiable.
#include <torch/autograd.h>
#include <torch/library.h>

#include "ops/spp_roi_pool.h"

namespace roiserve::ops {

namespace {

class SppRoIPoolFunction : public torch::autograd::Function<SppRoIPoolFunction> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const torch::autograd::Variable& input,
                                                const torch::autograd::Variable& rois,
                                                double spatial_scale, c10::IntArrayRef levels) {
    ctx->saved_data["spatial_scale"] = spatial_scale;
    ctx->saved_data["levels"] = levels;
    ctx->saved_data["input_shape"] = input.sizes();
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [output, argmax] = spp_roi_pool(input, rois, spatial_scale, levels);
    ctx->save_for_backward({rois, argmax});
    ctx->mark_non_differentiable({argmax});
    return {output, argmax};
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx, const torch::autograd::variable_list& grad_output) {
    const auto saved = ctx->get_saved_variables();
    const auto input_shape = ctx->saved_data["input_shape"].toIntVector();
    const auto levels = ctx->saved_data["levels"].toIntVector();
    const auto grad_input = spp_roi_pool_backward(
        grad_output[0], saved[0], saved[1], ctx->saved_data["spatial_scale"].toDouble(), levels,
        input_shape[0], input_shape[1], input_shape[2], input_shape[3]);
    return {grad_input, torch::autograd::Variable(), torch::autograd::Variable(),
            torch::autograd::Variable()};
  }
};

std::tuple<at::Tensor, at::Tensor> spp_roi_pool_autograd(const at::Tensor& input,
                                                         const at::Tensor& rois,
                                                         double spatial_scale,
                                                         c10::IntArrayRef levels) {
  auto result = SppRoIPoolFunction::apply(input, rois, spatial_scale, levels);
  return {result[0], result[1]};
}

}  // namespace

TORCH_LIBRARY_IMPL(roiserve, Autograd, m) {
  m.impl("spp_roi_pool", spp_roi_pool_autograd);
}

}  // namespace roiserve::ops
