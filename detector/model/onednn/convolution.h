#pragma once
// A convolution served by oneDNN: weights reordered once into the layout its
// kernel reads (per layout, not per call), bias, a residual add and ReLU fused
// into the kernel as post-ops, and for 3 x 3, stride-1 float32 convolutions
// oneDNN's Winograd F(4x4, 3x3) kernel, about twice as fast as the direct one
// on these layers (docs/ARCHITECTURE.md, "Serving arithmetic"). Activations
// come and go channels-last, the layout the rest of the detector reads; where
// a kernel computes in a blocked layout, the input and output are reordered
// around it inside the call.
//
// Thread-safe: plans (the primitive for one input shape) are built once per
// shape under a lock and then only read.
#include <ATen/ATen.h>

#include <dnnl.hpp>

#include <memory>
#include <tuple>
#include <vector>

#include "detector/model/onednn/plan_cache.h"

namespace roiserve::detector::onednn {

class Convolution {
 public:
  // weight [out, in, kh, kw] and bias [out], in the compute dtype (float32 or
  // bfloat16; the bias is kept float32); one group.
  Convolution(const at::Tensor& weight, const at::Tensor& bias, const std::vector<int64_t>& stride,
              const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation);

  // relu(conv(input) + addend), the add and the ReLU where asked: input
  // [N, in, H, W] in the compute dtype (channels-last, or made so), output
  // channels-last in that dtype. `addend` (undefined: none) is shaped like the
  // output; its storage becomes the output's when nothing else holds it.
  at::Tensor operator()(const at::Tensor& input, at::Tensor addend, bool relu) const;

 private:
  struct Plan;
  using PlanKey = std::tuple<int64_t, int64_t, int64_t, bool, bool>;  // N, H, W, add, relu

  std::shared_ptr<const Plan> make_plan(const at::Tensor& input, bool add, bool relu,
                                        ReorderedWeights& weights) const;

  at::Tensor bias_;  // float32
  dnnl::memory bias_memory_;  // a view of bias_
  dnnl::memory::data_type type_;
  std::vector<int64_t> weight_sizes_;  // [out, in, kh, kw]
  dnnl::memory::dims stride_;
  dnnl::memory::dims padding_;
  dnnl::memory::dims dilation_;  // oneDNN counts the gaps: torch's dilation - 1
  mutable PlanCache<PlanKey, Plan> plans_;
};

}  // namespace roiserve::detector::onednn
