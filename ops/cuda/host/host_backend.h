#pragma once
// Runs the CUDA kernel bodies on the CPU over their whole grid, for tests on
// machines without a GPU: the emulation behind libroiserve_cuda_host.so.
// A block's threads run one step at a time, each step for every thread before
// the next (what __syncthreads guarantees), and its shared memory is a host
// array. The order in which blocks, threads and grid indices are visited is
// set by ROISERVE_CUDA_HOST_ORDER (ascending, the default, descending, or
// interleaved), so tests can show that no result depends on it beyond
// floating-point rounding.
#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace roiserve::ops::cuda {

enum class GridOrder { kAscending, kDescending, kInterleaved };

inline GridOrder grid_order() {
  const char* order = std::getenv("ROISERVE_CUDA_HOST_ORDER");
  if (order == nullptr || std::strcmp(order, "ascending") == 0) {
    return GridOrder::kAscending;
  }
  if (std::strcmp(order, "descending") == 0) {
    return GridOrder::kDescending;
  }
  TORCH_CHECK(std::strcmp(order, "interleaved") == 0,
              "ROISERVE_CUDA_HOST_ORDER must be ascending, descending or interleaved, got '", order,
              "'");
  return GridOrder::kInterleaved;
}

// fn(i) for every i in [0, n), in the given order. Interleaved visits the odd
// indices before the even ones, so neighbours never run one after the other.
template <typename F>
void visit(int64_t n, GridOrder order, const F& fn) {
  switch (order) {
    case GridOrder::kAscending:
      for (int64_t i = 0; i < n; ++i) fn(i);
      break;
    case GridOrder::kDescending:
      for (int64_t i = n - 1; i >= 0; --i) fn(i);
      break;
    case GridOrder::kInterleaved:
      for (int64_t i = 1; i < n; i += 2) fn(i);
      for (int64_t i = 0; i < n; i += 2) fn(i);
      break;
  }
}

class HostBlock {
 public:
  HostBlock(int64_t index, int threads, unsigned char* shared_memory, GridOrder order)
      : index_(index), threads_(threads), shared_memory_(shared_memory), order_(order) {}

  int64_t index() const { return index_; }
  int threads() const { return threads_; }
  template <typename F>
  void for_each_thread(const F& step) const {
    visit(threads_, order_, [&](int64_t thread) { step(static_cast<int>(thread)); });
  }
  void sync() const {}
  template <typename T>
  T* shared() const {
    return reinterpret_cast<T*>(shared_memory_);
  }

 private:
  int64_t index_;
  int threads_;
  unsigned char* shared_memory_;
  GridOrder order_;
};

struct HostBackend {
  static constexpr const char* kName = "CUDA host emulation";

  struct NoGuard {};
  static NoGuard device_guard(const at::Tensor&) { return {}; }

  template <typename Body>
  static void elementwise(int64_t n, const Body& body) {
    visit(n, grid_order(), body);
  }

  template <typename Body>
  static void blocks(int64_t num_blocks, int threads, size_t shared_bytes, const Body& body) {
    const GridOrder order = grid_order();
    // Fresh garbage in every block's shared memory, as on a GPU: a body that
    // reads what it did not write shows up as wrong results.
    std::vector<unsigned char> shared_memory(shared_bytes);
    visit(num_blocks, order, [&](int64_t index) {
      std::memset(shared_memory.data(), static_cast<int>(0xA5 ^ (index & 0xFF)), shared_bytes);
      HostBlock block(index, threads, shared_memory.data(), order);
      body(block);
    });
  }
};

}  // namespace roiserve::ops::cuda
