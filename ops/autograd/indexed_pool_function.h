#pragma once
// Autograd for the quantized pooling ops whose forward returns (output, index)
// and whose backward routes the gradient through that index: roi_pool (argmax)
// and ps_roi_pool (channel_mapping). The index output is not differentiable.
#include <torch/autograd.h>

#include <tuple>
#include <type_traits>

#include "ops/autograd/op_handle.h"
#include "ops/ps_roi_pool.h"
#include "ops/roi_pool.h"

namespace roiserve::ops::detail {

inline constexpr char kRoIPool[] = "roi_pool";
inline constexpr char kRoIPoolBackward[] = "_roi_pool_backward";
inline constexpr char kPSRoIPool[] = "ps_roi_pool";
inline constexpr char kPSRoIPoolBackward[] = "_ps_roi_pool_backward";

using IndexedPoolForward = decltype(roi_pool);
using IndexedPoolBackward = decltype(roi_pool_backward);
static_assert(std::is_same_v<IndexedPoolForward, decltype(ps_roi_pool)> &&
              std::is_same_v<IndexedPoolBackward, decltype(ps_roi_pool_backward)>);

template <const char* Namespace, const char* Forward, const char* Backward>
class IndexedPoolFunction
    : public torch::autograd::Function<IndexedPoolFunction<Namespace, Forward, Backward>> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const torch::autograd::Variable& input,
                                                const torch::autograd::Variable& rois,
                                                double spatial_scale, int64_t pooled_height,
                                                int64_t pooled_width) {
    ctx->saved_data["spatial_scale"] = spatial_scale;
    ctx->saved_data["pooled_height"] = pooled_height;
    ctx->saved_data["pooled_width"] = pooled_width;
    ctx->saved_data["input_shape"] = input.sizes();
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [output, index] = op_handle<Namespace, Forward, IndexedPoolForward>().call(
        input, rois, spatial_scale, pooled_height, pooled_width);
    ctx->save_for_backward({rois, index});
    ctx->mark_non_differentiable({index});
    return {output, index};
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx, const torch::autograd::variable_list& grad_output) {
    const auto saved = ctx->get_saved_variables();
    const auto input_shape = ctx->saved_data["input_shape"].toIntVector();
    const auto grad_input = op_handle<Namespace, Backward, IndexedPoolBackward>().call(
        grad_output[0], saved[0], saved[1], ctx->saved_data["spatial_scale"].toDouble(),
        ctx->saved_data["pooled_height"].toInt(), ctx->saved_data["pooled_width"].toInt(),
        input_shape[0], input_shape[1], input_shape[2], input_shape[3]);
    return {grad_input, torch::autograd::Variable(), torch::autograd::Variable(),
            torch::autograd::Variable(), torch::autograd::Variable()};
  }
};

// The Autograd-key kernel of such an op.
template <const char* Namespace, const char* Forward, const char* Backward>
std::tuple<at::Tensor, at::Tensor> indexed_pool_autograd(const at::Tensor& input,
                                                         const at::Tensor& rois,
                                                         double spatial_scale,
                                                         int64_t pooled_height,
                                                         int64_t pooled_width) {
  auto result = IndexedPoolFunction<Namespace, Forward, Backward>::apply(
      input, rois, spatial_scale, pooled_height, pooled_width);
  return {result[0], result[1]};
}

}  // namespace roiserve::ops::detail
