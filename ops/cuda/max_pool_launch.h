#pragma once
// The launches shared by RoIPool's and SPP's launchers (roi_pool_launch.h,
// spp_roi_pool_launch.h): one max pooling of every RoI into [K, C, PH, PW]
// views of the outputs, and the routing of a [K, C, PH, PW] gradient back
// through argmax, on either backend.
#include <ATen/ATen.h>

#include <algorithm>

#include "ops/cuda/layout.h"
#include "ops/cuda/max_pool_kernels.h"

namespace roiserve::ops::cuda {

inline MaxPoolShape max_pool_shape(int64_t channels, int64_t height, int64_t width,
                                   int64_t pooled_height, int64_t pooled_width,
                                   bool channels_last) {
  return {channels,      height,       width,
          pooled_height, pooled_width, std::min(channels, kMaxPoolChannelChunk),
          channels_last};
}

inline PooledStrides pooled_strides(const at::Tensor& t) {
  return {t.stride(0), t.stride(1), t.stride(2), t.stride(3)};
}

// argmax must be readable where grad is (check_index_tensor does not compare
// devices, and on the CPU kernels both are CPU tensors by dispatch).
inline void check_argmax_device(const char* op, const at::Tensor& argmax, const at::Tensor& grad) {
  TORCH_CHECK(argmax.device() == grad.device(), op, ": argmax must be on grad's device (",
              grad.device(), "), got ", argmax.device());
}

// output and argmax ([K, C, PH, PW] views of one set of strides) = the max
// pooling of `features` ([N, C, H, W] dense in the layout channels_last
// gives) over the bins of `boxes` ([K, 5] dense, K > 0).
template <typename Backend, typename scalar_t>
void launch_max_pool_forward(const at::Tensor& features, const at::Tensor& boxes,
                             double spatial_scale, bool channels_last, const at::Tensor& output,
                             const at::Tensor& argmax) {
  using acc_t = at::opmath_type<scalar_t>;
  TORCH_INTERNAL_ASSERT(output.strides() == argmax.strides());
  const MaxPoolShape shape = max_pool_shape(features.size(1), features.size(2), features.size(3),
                                            output.size(2), output.size(3), channels_last);
  const MaxPoolForward<scalar_t> body{features.data_ptr<scalar_t>(),    boxes.data_ptr<scalar_t>(),
                                      output.data_ptr<scalar_t>(),      argmax.data_ptr<int32_t>(),
                                      pooled_strides(output),           shape,
                                      static_cast<acc_t>(spatial_scale)};
  // No more threads than work items: a 1×1 level pools one bin per channel.
  const int64_t items = shape.channel_chunk * shape.bins();
  const auto threads =
      static_cast<int>(std::min<int64_t>(kMaxPoolThreads, ceil_div<int64_t>(items, 32) * 32));
  const int64_t table = std::min(shape.pooled_height + shape.pooled_width, kSharedBins);
  Backend::blocks(boxes.size(0) * shape.chunks(), threads, table * sizeof(BinRange), body);
}

// grad_input (accumulation type, dense in the layout channels_last gives,
// zeroed) += grad routed through argmax, both [K, C, PH, PW] of any strides.
template <typename Backend, typename scalar_t>
void launch_max_pool_backward(const at::Tensor& grad, const at::Tensor& argmax,
                              const at::Tensor& boxes, bool channels_last,
                              const at::Tensor& grad_input) {
  using acc_t = at::opmath_type<scalar_t>;
  const MaxPoolShape shape =
      max_pool_shape(grad_input.size(1), grad_input.size(2), grad_input.size(3), grad.size(2),
                     grad.size(3), channels_last);
  const MaxPoolGrad<scalar_t> routes{grad.data_ptr<scalar_t>(), pooled_strides(grad),
                                     argmax.data_ptr<int32_t>(), pooled_strides(argmax),
                                     boxes.data_ptr<scalar_t>()};
  acc_t* out = grad_input.data_ptr<acc_t>();
  if (at::globalContext().deterministicAlgorithms()) {
    const MaxPoolBackwardDeterministic<scalar_t> body{routes, boxes.size(0), out, shape};
    Backend::elementwise(grad_input.size(0) * shape.channels, body);
  } else {
    const MaxPoolBackward<scalar_t> body{routes, out, shape};
    Backend::elementwise(grad.numel(), body);
  }
}

}  // namespace roiserve::ops::cuda
