#pragma once
// Memory-layout plumbing shared by the CPU kernels: which layout to return,
// per-RoI transposes between bin-major tiles and NCHW, and the split of
// channels over threads that keeps backward passes race-free.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "ops/cpu/simd.h"

namespace roiserve::ops::cpu {

// Outputs follow the layout the caller works in, as convolutions do.
inline bool is_channels_last(const at::Tensor& t) {
  return t.dim() == 4 && t.suggest_memory_format() == at::MemoryFormat::ChannelsLast;
}

// Zeros in an explicit memory layout (at::zeros ignores the memory format of
// its TensorOptions).
inline at::Tensor zeros_in_layout(at::IntArrayRef sizes, const at::TensorOptions& options,
                                  at::MemoryFormat format) {
  return at::empty(sizes, options, format).zero_();
}

// A gradient computed channels-last is handed back in the layout of the
// incoming gradient.
inline at::Tensor restore_layout(const at::Tensor& channels_last_result, const at::Tensor& grad) {
  return is_channels_last(grad) ? channels_last_result : channels_last_result.contiguous();
}

// Eight lanes of T in one vector. The compiler maps it onto whatever registers
// the target has (one AVX2 or AVX-512 register for float, two SSE ones on the
// baseline), so one source serves every ROISERVE_CPU_CLONES clone.
template <typename T>
struct EightLanes {
  static constexpr bool kVector = false;  // other types transpose one element at a time
};

template <>
struct EightLanes<float> {
  static constexpr bool kVector = true;
  typedef float Vector __attribute__((vector_size(32)));
};

template <>
struct EightLanes<int32_t> {
  static constexpr bool kVector = true;
  typedef int32_t Vector __attribute__((vector_size(32)));
};

template <>
struct EightLanes<double> {
  static constexpr bool kVector = true;
  typedef double Vector __attribute__((vector_size(64)));
};

// One round of an 8 × 8 transpose: swaps the off-diagonal kSize × kSize
// blocks of the 2kSize × 2kSize block whose rows start at `top` and `bottom`
// (kSize rows apart).
template <int kSize, typename Vector>
ROISERVE_ALWAYS_INLINE void swap_off_diagonal(Vector& top, Vector& bottom) {
  const Vector t = top;
  if constexpr (kSize == 1) {
    top = __builtin_shufflevector(t, bottom, 0, 8, 2, 10, 4, 12, 6, 14);
    bottom = __builtin_shufflevector(t, bottom, 1, 9, 3, 11, 5, 13, 7, 15);
  } else if constexpr (kSize == 2) {
    top = __builtin_shufflevector(t, bottom, 0, 1, 8, 9, 4, 5, 12, 13);
    bottom = __builtin_shufflevector(t, bottom, 2, 3, 10, 11, 6, 7, 14, 15);
  } else {
    static_assert(kSize == 4);
    top = __builtin_shufflevector(t, bottom, 0, 1, 2, 3, 8, 9, 10, 11);
    bottom = __builtin_shufflevector(t, bottom, 4, 5, 6, 7, 12, 13, 14, 15);
  }
}

// Transposes an 8 × 8 tile held as eight row vectors, in three rounds.
template <typename T>
ROISERVE_ALWAYS_INLINE void transpose_8x8(typename EightLanes<T>::Vector (&rows)[8]) {
  for (const int i : {0, 2, 4, 6}) {
    swap_off_diagonal<1>(rows[i], rows[i + 1]);
  }
  for (const int i : {0, 1, 4, 5}) {
    swap_off_diagonal<2>(rows[i], rows[i + 2]);
  }
  for (const int i : {0, 1, 2, 3}) {
    swap_off_diagonal<4>(rows[i], rows[i + 4]);
  }
}

// dst[c, r] = src[r, c] for a dense [rows, cols] matrix: 8 × 8 tiles in
// registers where T has EightLanes, the ragged edges one element at a time.
template <typename T>
ROISERVE_ALWAYS_INLINE void transpose(const T* __restrict src, int64_t rows, int64_t cols,
                                      T* __restrict dst) {
  constexpr int64_t kTile = 8;
  int64_t r0 = 0;
  if constexpr (EightLanes<T>::kVector) {
    using Vector = typename EightLanes<T>::Vector;
    for (; r0 + kTile <= rows; r0 += kTile) {
      int64_t c0 = 0;
      for (; c0 + kTile <= cols; c0 += kTile) {
        Vector tile[kTile];
        for (int64_t i = 0; i < kTile; ++i) {
          std::memcpy(&tile[i], src + (r0 + i) * cols + c0, sizeof(Vector));
        }
        transpose_8x8<T>(tile);
        for (int64_t i = 0; i < kTile; ++i) {
          std::memcpy(dst + (c0 + i) * rows + r0, &tile[i], sizeof(Vector));
        }
      }
      for (int64_t c = c0; c < cols; ++c) {
        for (int64_t r = r0; r < r0 + kTile; ++r) {
          dst[c * rows + r] = src[r * cols + c];
        }
      }
    }
  }
  for (int64_t r = r0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      dst[c * rows + r] = src[r * cols + c];
    }
  }
}

// tile [bins, channels] -> out [channels, bins].
template <typename T>
void transpose_bins_to_channels(const T* tile, int64_t bins, int64_t channels, T* out) {
  transpose(tile, bins, channels, out);
}

// Reads one RoI's slice of a [K, C, PH, PW] tensor of any strides as a
// bin-major tile [PH * PW, c_end - c_begin].
template <typename T>
class BinMajorReader {
 public:
  explicit BinMajorReader(const at::Tensor& t)
      : data_(t.data_ptr<T>()),
        stride_k_(t.stride(0)),
        stride_c_(t.stride(1)),
        stride_h_(t.stride(2)),
        stride_w_(t.stride(3)),
        pooled_height_(t.size(2)),
        pooled_width_(t.size(3)) {}

  void gather(int64_t k, int64_t c_begin, int64_t c_end, T* tile) const {
    const int64_t block = c_end - c_begin;
    for (int64_t ph = 0; ph < pooled_height_; ++ph) {
      for (int64_t pw = 0; pw < pooled_width_; ++pw) {
        const T* src = data_ + k * stride_k_ + ph * stride_h_ + pw * stride_w_;
        T* dst = tile + (ph * pooled_width_ + pw) * block;
        for (int64_t c = c_begin; c < c_end; ++c) {
          dst[c - c_begin] = src[c * stride_c_];
        }
      }
    }
  }

 private:
  const T* data_;
  int64_t stride_k_, stride_c_, stride_h_, stride_w_;
  int64_t pooled_height_, pooled_width_;
};

// Runs fn(c_begin, c_end) over disjoint channel ranges in parallel. A backward
// pass split this way adds every gradient element in one thread, in the same
// order whatever the thread count: deterministic and without atomics.
template <typename F>
void for_each_channel_block(int64_t channels, const F& fn) {
  constexpr int64_t kBlock = 16;  // one cache line of float
  const int64_t blocks = (channels + kBlock - 1) / kBlock;
  at::parallel_for(0, blocks, 1, [&](int64_t begin, int64_t end) {
    fn(begin * kBlock, std::min(end * kBlock, channels));
  });
}

}  // namespace roiserve::ops::cpu
