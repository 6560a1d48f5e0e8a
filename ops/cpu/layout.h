#pragma once
// Memory-layout plumbing shared by the CPU kernels: which layout to return,
// per-RoI transposes between bin-major tiles and NCHW, and the split of
// channels over threads that keeps backward passes race-free.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>

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

// tile [bins, channels] -> out [channels, bins].
template <typename T>
void transpose_bins_to_channels(const T* tile, int64_t bins, int64_t channels, T* out) {
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t b = 0; b < bins; ++b) {
      out[c * bins + b] = tile[b * channels + c];
    }
  }
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
