#pragma once
// The encoders of rle.h for masks held in tensors.
#include <ATen/core/Tensor.h>

#include <cstdint>

#include "detector/eval/rle.h"

namespace roiserve::eval {

// A [H, W] bool or uint8 tensor on any device.
Rle encode(const at::Tensor& mask);

// A [h, w] bool or uint8 tensor on any device, as the patch of encode_patch.
Rle encode_patch(const at::Tensor& patch, int64_t top, int64_t left, int64_t height,
                 int64_t width);

}  // namespace roiserve::eval
