#pragma once
// float16 and bfloat16 run through the float32 kernels: computed in float32 and
// rounded once, at the end. (torchvision runs float16 in emulated half
// precision, rounding after every operation, and has no bfloat16 on the CPU.)
#include <ATen/ATen.h>

#include <tuple>
#include <type_traits>

namespace roiserve::ops::cpu {

inline bool is_reduced_float(at::ScalarType dtype) {
  return dtype == at::kHalf || dtype == at::kBFloat16;
}

namespace reduced_float_detail {

template <typename Arg>
decltype(auto) upcast(const Arg& arg) {
  if constexpr (std::is_same_v<Arg, at::Tensor>) {
    return is_reduced_float(arg.scalar_type()) ? arg.to(at::kFloat) : arg;
  } else {
    return arg;
  }
}

// Index outputs (argmax, channel_mapping) are integers and keep their dtype.
inline at::Tensor round_to(const at::Tensor& result, at::ScalarType dtype) {
  return at::isFloatingType(result.scalar_type()) ? result.to(dtype) : result;
}

template <typename... Results>
std::tuple<Results...> round_to(const std::tuple<Results...>& results, at::ScalarType dtype) {
  return std::apply(
      [&](const auto&... result) { return std::tuple<Results...>(round_to(result, dtype)...); },
      results);
}

}  // namespace reduced_float_detail

// compute(args...) for checked arguments of floating point `dtype`. Where dtype
// is float16 or bfloat16, compute sees its tensors of that dtype as float32, and
// its floating point results are rounded back to dtype; so compute handles
// float32 and float64 alone, and the checks run once, on the arguments as given.
template <typename Compute, typename... Args>
auto upcast_reduced_float(at::ScalarType dtype, const Compute& compute, const Args&... args) {
  if (!is_reduced_float(dtype)) {
    return compute(args...);
  }
  return reduced_float_detail::round_to(compute(reduced_float_detail::upcast(args)...), dtype);
}

}  // namespace roiserve::ops::cpu
