#pragma once
// A fully connected layer served by oneDNN: the weight reordered once into
// the layout its kernel reads and the ReLU fused. In float32 oneDNN's kernel
// ran Fast R-CNN's fc6 (1000 x 12544 -> 1024) in 62 ms where ATen's GEMM
// (OpenBLAS) took 105 ms on this machine's AVX-512 cores.
//
// Thread-safe: plans (the primitive for one row count) are built once per
// count under a lock and then only read.
#include <ATen/ATen.h>

#include <dnnl.hpp>

#include <memory>
#include <tuple>

#include "detector/model/onednn/plan_cache.h"

namespace roiserve::detector::onednn {

class InnerProduct {
 public:
  // weight [out, in] and bias [out], in the compute dtype (float32 or
  // bfloat16; the bias is kept float32).
  InnerProduct(const at::Tensor& weight, const at::Tensor& bias);

  // relu(input weight^T + bias), the ReLU where asked: input [rows, in] in the
  // compute dtype, output [rows, out] in `output_type` (the compute dtype or
  // float32).
  at::Tensor operator()(const at::Tensor& input, bool relu, c10::ScalarType output_type) const;

 private:
  struct Plan;
  using PlanKey = std::tuple<int64_t, bool, c10::ScalarType>;  // rows, relu, output dtype

  std::shared_ptr<const Plan> make_plan(int64_t rows, bool relu, c10::ScalarType output_type,
                                        ReorderedWeights& weights) const;

  at::Tensor bias_;  // float32
  dnnl::memory bias_memory_;  // a view of bias_
  dnnl::memory::data_type type_;
  int64_t out_features_;
  int64_t in_features_;
  mutable PlanCache<PlanKey, Plan> plans_;
};

}  // namespace roiserve::detector::onednn
