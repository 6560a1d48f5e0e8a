#pragma once
// What every oneDNN primitive of the serving path shares: the CPU engine, a
// stream per calling thread, ATen tensors seen as oneDNN memory (no copy), and
// execution with the scratchpad and temporaries allocated through ATen (so the
// primitives themselves hold no per-call state and can run on several threads
// at once).
//
// Built only when the detector links the oneDNN that LibTorch itself runs on
// (ROISERVE_ONEDNN, see detector/CMakeLists.txt): one library, one OpenMP pool.
#include <ATen/ATen.h>

#include <dnnl.hpp>

#include <optional>
#include <string>
#include <unordered_map>

namespace roiserve::detector::onednn {

const dnnl::engine& cpu_engine();

// "major.minor.patch" of the oneDNN in the process.
std::string version();

// float32 and bfloat16; nothing else is served through oneDNN.
std::optional<dnnl::memory::data_type> data_type_of(c10::ScalarType type);
// The same, throwing std::invalid_argument for any other dtype.
dnnl::memory::data_type served_data_type(c10::ScalarType type);

// `tensor`'s storage as memory of layout `layout` (which must describe it).
dnnl::memory view(const dnnl::memory::desc& layout, const at::Tensor& tensor);

// A layer's bias [out] as float32 memory; the tensor must outlive it.
dnnl::memory float_bias(const at::Tensor& bias);

// Fresh memory of `layout`, its bytes owned by the returned tensor.
std::pair<dnnl::memory, at::Tensor> allocate(const dnnl::memory::desc& layout);

// Runs `primitive` on this thread's stream, with a scratchpad of
// `scratchpad` (user-managed: see make_attributes) and waits for it.
void execute(const dnnl::primitive& primitive, std::unordered_map<int, dnnl::memory> arguments,
             const dnnl::memory::desc& scratchpad);

// Attributes with the scratchpad left to the caller, and the given post-ops.
dnnl::primitive_attr make_attributes(const dnnl::post_ops& post_ops);

// Reorders `source` into a new memory of `layout` (weights, once, at load).
dnnl::memory reordered(const dnnl::memory& source, const dnnl::memory::desc& layout);

}  // namespace roiserve::detector::onednn
