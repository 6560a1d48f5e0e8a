// The at::Tensor overloads of the encoders, kept apart so that the rest of the
// RLE code (roiserve_coco_rle) builds without LibTorch.
#include <ATen/ATen.h>

#include <stdexcept>
#include <string>

#include "detector/eval/rle_tensor.h"

namespace roiserve::eval {
namespace {

// The mask as contiguous uint8 on the CPU.
at::Tensor as_cpu_bytes(const at::Tensor& mask, const char* caller) {
  if (mask.dim() != 2) {
    throw std::invalid_argument(std::string(caller) + ": mask must be 2-D [H, W], got " +
                                std::to_string(mask.dim()) + " dimensions");
  }
  if (mask.scalar_type() != at::kBool && mask.scalar_type() != at::kByte) {
    throw std::invalid_argument(std::string(caller) + ": mask must be bool or uint8, got " +
                                std::string(c10::toString(mask.scalar_type())));
  }
  return mask.to(at::kCPU, at::kByte).contiguous();
}

}  // namespace

Rle encode(const at::Tensor& mask) {
  const at::Tensor bytes = as_cpu_bytes(mask, "encode");
  return encode(bytes.data_ptr<uint8_t>(), bytes.size(0), bytes.size(1));
}

Rle encode_patch(const at::Tensor& patch, int64_t top, int64_t left, int64_t height,
                 int64_t width) {
  const at::Tensor bytes = as_cpu_bytes(patch, "encode_patch");
  return encode_patch(bytes.data_ptr<uint8_t>(), bytes.size(0), bytes.size(1), top, left, height,
                      width);
}

}  // namespace roiserve::eval
