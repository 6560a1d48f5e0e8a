#pragma once
// Launches kernel bodies on the GPU, on the current stream, without a host
// synchronisation. A body is a functor written once for both backends:
//   elementwise: body(index) for every index in [0, n), a grid-stride loop;
//   blocks:      body(block) for every block, where the body runs its steps
//                as block.for_each_thread(step) separated by block.sync(), and
//                keeps what crosses a sync in block.shared<T>().
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include <algorithm>
#include <cstdint>

namespace roiserve::ops::cuda {

class DeviceBlock {
 public:
  __device__ int64_t index() const { return blockIdx.x; }
  __device__ int threads() const { return blockDim.x; }
  template <typename F>
  __device__ void for_each_thread(const F& step) const {
    step(static_cast<int>(threadIdx.x));
  }
  __device__ void sync() const { __syncthreads(); }
  template <typename T>
  __device__ T* shared() const {
    extern __shared__ __align__(16) unsigned char shared_memory[];
    return reinterpret_cast<T*>(shared_memory);
  }
};

template <typename Body>
__global__ void elementwise_kernel(Body body, int64_t n) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    body(i);
  }
}

template <typename Body>
__global__ void block_kernel(Body body) {
  DeviceBlock block;
  body(block);
}

struct CudaBackend {
  static constexpr const char* kName = "CUDA";

  static c10::cuda::OptionalCUDAGuard device_guard(const at::Tensor& tensor) {
    return c10::cuda::OptionalCUDAGuard(tensor.device());
  }

  template <typename Body>
  static void elementwise(int64_t n, const Body& body) {
    if (n == 0) {
      return;
    }
    constexpr int kThreads = 256;
    // Enough blocks to fill every SM several times; the loop covers the rest.
    const int64_t max_blocks =
        static_cast<int64_t>(at::cuda::getCurrentDeviceProperties()->multiProcessorCount) * 32;
    const auto blocks = static_cast<unsigned>(std::min((n + kThreads - 1) / kThreads, max_blocks));
    elementwise_kernel<<<blocks, kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(body, n);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }

  template <typename Body>
  static void blocks(int64_t num_blocks, int threads, size_t shared_bytes, const Body& body) {
    if (num_blocks == 0) {
      return;
    }
    block_kernel<<<static_cast<unsigned>(num_blocks), threads, shared_bytes,
                   at::cuda::getCurrentCUDAStream()>>>(body);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
};

}  // namespace roiserve::ops::cuda
