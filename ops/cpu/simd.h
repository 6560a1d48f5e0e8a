#pragma once
// Runtime dispatch without -march=native: a function marked ROISERVE_CPU_CLONES
// is compiled for x86-64-v4 (AVX-512), x86-64-v3 (AVX2) and the baseline, and
// the loader picks the best one for the CPU it runs on. The hot loops run over
// contiguous channels, which the compiler vectorizes in each clone. Kernels are
// built with -ffp-contract=off so that no clone fuses a multiply-add that
// torchvision's scalar code rounds twice.
#include <cstdint>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ROISERVE_CPU_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ROISERVE_CPU_CLONES
#endif

#if defined(__GNUC__)
#define ROISERVE_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ROISERVE_ALWAYS_INLINE inline
#endif

namespace roiserve::ops::cpu {

// One cache line of T as a vector, and the integer vector of the same shape
// that comparing two of them gives (GCC vector extensions). The compiler maps
// it onto each clone's registers: one AVX-512 register, two AVX2 ones, four
// SSE ones; locals of these types stay in registers where arrays of T may not.
template <typename T>
struct LineLanes;

template <>
struct LineLanes<float> {
  typedef float Vector __attribute__((vector_size(64)));
  typedef int32_t Index __attribute__((vector_size(64)));
};

template <>
struct LineLanes<double> {
  typedef double Vector __attribute__((vector_size(64)));
  typedef int64_t Index __attribute__((vector_size(64)));
};

}  // namespace roiserve::ops::cpu
