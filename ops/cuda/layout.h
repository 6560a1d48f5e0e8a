#pragma once
// Layout and type plumbing shared by the CUDA launchers.
#include <ATen/ATen.h>

namespace roiserve::ops::cuda {

// Outputs follow the layout the caller works in, as convolutions do.
inline bool is_channels_last(const at::Tensor& t) {
  return t.dim() == 4 && t.suggest_memory_format() == at::MemoryFormat::ChannelsLast;
}

inline at::MemoryFormat memory_format(bool channels_last) {
  return channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
}

// at::zeros ignores the memory format of its TensorOptions.
inline at::Tensor zeros_in_layout(at::IntArrayRef sizes, const at::TensorOptions& options,
                                  at::MemoryFormat format) {
  return at::empty(sizes, options, format).zero_();
}

// The type gradients are summed in: float for float16 and bfloat16, whose
// atomic adds would round after every add.
inline at::ScalarType accumulation_type(at::ScalarType type) {
  return type == at::kHalf || type == at::kBFloat16 ? at::kFloat : type;
}

}  // namespace roiserve::ops::cuda
