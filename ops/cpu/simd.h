#pragma once
// Runtime dispatch without -march=native: a function marked ROISERVE_CPU_CLONES
// is compiled for x86-64-v4 (AVX-512), x86-64-v3 (AVX2) and the baseline, and
// the loader picks the best one for the CPU it runs on. The hot loops run over
// contiguous channels, which the compiler vectorizes in each clone. Kernels are
// built with -ffp-contract=off so that no clone fuses a multiply-add that
// torchvision's scalar code rounds twice.
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
