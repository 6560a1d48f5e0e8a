#pragma once
// Code shared by the CPU, the CUDA kernels and their host emulation is written
// once and compiled for whichever side includes it.
#if defined(__CUDACC__)
#define ROISERVE_HOST_DEVICE __host__ __device__
#else
#define ROISERVE_HOST_DEVICE
#endif
