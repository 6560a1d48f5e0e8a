#pragma once
// The few device primitives the kernel bodies use, each with an exact host
// definition for the emulation (host/host_backend.h): on the host, a block's
// threads run one after another, so an atomic add is a plain add.
#include <cstdint>

#include "ops/common/host_device.h"

namespace roiserve::ops::cuda {

template <typename T>
ROISERVE_HOST_DEVICE inline void atomic_add(T* address, T value) {
#if defined(__CUDA_ARCH__)
  atomicAdd(address, value);
#else
  *address += value;
#endif
}

template <typename T>
ROISERVE_HOST_DEVICE inline T ceil_div(T a, T b) {
  return (a + b - 1) / b;
}

// Arithmetic rounded once per operation, as the CPU kernels (built with
// -ffp-contract=off) round it: nvcc would otherwise fuse a multiply and an add
// into one FMA, changing results at ties such as NMS's IoU threshold.
#if defined(__CUDA_ARCH__)
__device__ inline float add_rn(float a, float b) {
  return __fadd_rn(a, b);
}
__device__ inline float sub_rn(float a, float b) {
  return __fsub_rn(a, b);
}
__device__ inline float mul_rn(float a, float b) {
  return __fmul_rn(a, b);
}
__device__ inline float div_rn(float a, float b) {
  return __fdiv_rn(a, b);
}
__device__ inline double add_rn(double a, double b) {
  return __dadd_rn(a, b);
}
__device__ inline double sub_rn(double a, double b) {
  return __dsub_rn(a, b);
}
__device__ inline double mul_rn(double a, double b) {
  return __dmul_rn(a, b);
}
__device__ inline double div_rn(double a, double b) {
  return __ddiv_rn(a, b);
}
#else
template <typename T>
inline T add_rn(T a, T b) {
  return a + b;
}
template <typename T>
inline T sub_rn(T a, T b) {
  return a - b;
}
template <typename T>
inline T mul_rn(T a, T b) {
  return a * b;
}
template <typename T>
inline T div_rn(T a, T b) {
  return a / b;
}
#endif

}  // namespace roiserve::ops::cuda
