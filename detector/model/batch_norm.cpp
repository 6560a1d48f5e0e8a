#include "detector/model/batch_norm.h"

#include <ATen/ATen.h>

namespace roiserve::detector {

namespace {
constexpr double kRunningStatsMomentum = 0.1;
}

BatchNorm2dImpl::BatchNorm2dImpl(int64_t channels, double eps) : eps_(eps) {
  weight_ = register_parameter("weight", at::ones({channels}));
  bias_ = register_parameter("bias", at::zeros({channels}));
  running_mean_ = register_buffer("running_mean", at::zeros({channels}));
  running_var_ = register_buffer("running_var", at::ones({channels}));
}

std::pair<at::Tensor, at::Tensor> BatchNorm2dImpl::frozen_affine() const {
  // torchvision's FrozenBatchNorm2d, operation for operation, for parity.
  const at::Tensor scale = weight_ * (running_var_ + eps_).rsqrt();
  const at::Tensor shift = bias_ - running_mean_ * scale;
  return {scale, shift};
}

at::Tensor BatchNorm2dImpl::forward_inplace(at::Tensor input) {
  // With autograd, multiplying in place would destroy what the weight's
  // gradient needs.
  if (is_training() || at::GradMode::is_enabled()) return forward(input);
  const auto [scale, shift] = frozen_affine();
  return input.mul_(scale.view({1, -1, 1, 1})).add_(shift.view({1, -1, 1, 1}));
}

at::Tensor BatchNorm2dImpl::forward(const at::Tensor& input) {
  if (is_training()) {
    return at::batch_norm(input, weight_, bias_, running_mean_, running_var_, /*training=*/true,
                          kRunningStatsMomentum, eps_, /*cudnn_enabled=*/true);
  }
  const auto [scale, shift] = frozen_affine();
  return input * scale.view({1, -1, 1, 1}) + shift.view({1, -1, 1, 1});
}

}  // namespace roiserve::detector
