#pragma once
// The max-pooling kernel bodies of RoIPool and SPP (one launch per pyramid
// level), compiled by nvcc for the GPU and by the host compiler for the
// emulation (host/). Semantics are the CPU kernels' (ops/cpu/max_pool.h): an
// empty bin pools to 0 with argmax -1, the maximum starts at -FLT_MAX as in
// torchvision, a NaN never wins, and ties go to the first cell in row-major
// order; argmax is the flat index h * W + w.
//
// Forward: one block pools one RoI over a chunk of channels (roi_block.h). Its
// threads first lay out the RoI's bins (pooled_height row ranges and
// pooled_width column ranges) in shared memory, then each thread pools
// (channel, bin) outputs.
//
// Backward: the forward chose one cell per output, so the gradient needs no
// geometry: each output's gradient goes to the cell its argmax names.
#include <ATen/OpMathType.h>

#include <cfloat>
#include <cstdint>

#include "ops/common/bin_range.h"
#include "ops/common/roi_pool_cells.h"
#include "ops/cuda/bin_table.h"
#include "ops/cuda/dense_layout.h"
#include "ops/cuda/device_primitives.h"
#include "ops/cuda/roi_block.h"

namespace roiserve::ops::cuda {

constexpr int kMaxPoolThreads = 256;
// Channels one block pools: a multiple of the warp size, so channels-last
// reads stay whole-warp runs.
constexpr int64_t kMaxPoolChannelChunk = 64;

// One max-pooling launch: every RoI pooled into pooled_height × pooled_width
// bins of a map whose layout `channels_last` gives (RoIPool, or one SPP level).
struct MaxPoolShape {
  int64_t channels, height, width, pooled_height, pooled_width;
  int64_t channel_chunk;  // channels per block
  bool channels_last;

  ROISERVE_HOST_DEVICE int64_t chunks() const { return channel_chunks(channels, channel_chunk); }
  ROISERVE_HOST_DEVICE int64_t bins() const { return pooled_height * pooled_width; }
  ROISERVE_HOST_DEVICE Layout map() const { return {channels_last, channels, height * width}; }
};

// Element (k, c, ph, pw) of a [K, C, PH, PW] tensor of any strides: RoIPool's
// outputs in either layout, an SPP level's [C, L, L] block of each output row,
// and the gradients and argmax handed to the backward ops.
struct PooledStrides {
  int64_t k, c, h, w;

  ROISERVE_HOST_DEVICE int64_t at(int64_t roi, int64_t channel, int64_t ph, int64_t pw) const {
    return roi * k + channel * c + ph * h + pw * w;
  }
};

template <typename scalar_t>
struct MaxPoolForward {
  using acc_t = at::opmath_type<scalar_t>;
  const scalar_t* input;  // [N, C, H, W] dense in shape.channels_last's layout
  const scalar_t* rois;   // [K, 5] dense
  scalar_t* output;       // [K, C, PH, PW] at `strides`
  int32_t* argmax;        // [K, C, PH, PW] at `strides`
  PooledStrides strides;
  MaxPoolShape shape;
  acc_t spatial_scale;

  template <typename Block>
  ROISERVE_HOST_DEVICE void operator()(const Block& block) const {
    const auto work = start_roi_block(block, rois, shape.channels, shape.channel_chunk,
                                      [&](const scalar_t* roi, BinRange* shared) {
                                        return BinTable<RoIPoolCells<acc_t>>(
                                            roi_pool_cells(roi, spatial_scale), shape.pooled_height,
                                            shape.pooled_width, shape.height, shape.width, shared);
                                      });
    const Layout map = shape.map();
    const int64_t n = work.image();
    for_each_channel_bin(
        block, work.chunk, shape.bins(), shape.channels_last, [&](int64_t c, int64_t bin) {
          const int64_t ph = bin / shape.pooled_width;
          const int64_t pw = bin % shape.pooled_width;
          const BinRange r = work.table.row(ph);
          const BinRange q = work.table.col(pw);
          // Written so that a NaN never compares greater, as in torchvision.
          acc_t best = (r.empty() || q.empty()) ? acc_t(0) : static_cast<acc_t>(-FLT_MAX);
          int32_t where = -1;
          for (int64_t h = r.start; h < r.end; ++h) {
            for (int64_t w = q.start; w < q.end; ++w) {
              const int64_t cell = h * shape.width + w;
              const auto value = static_cast<acc_t>(input[map.at(n, c, cell)]);
              if (value > best) {
                best = value;
                where = static_cast<int32_t>(cell);
              }
            }
          }
          const int64_t element = strides.at(work.chunk.roi, c, ph, pw);
          output[element] = static_cast<scalar_t>(best);
          argmax[element] = where;
        });
  }
};

// What both backward kernels read: the pooled gradient and the forward's
// argmax, each [K, C, PH, PW] of any strides, and the rois [K, 5] dense.
template <typename scalar_t>
struct MaxPoolGrad {
  const scalar_t* grad;
  PooledStrides grad_strides;
  const int32_t* argmax;
  PooledStrides argmax_strides;
  const scalar_t* rois;

  ROISERVE_HOST_DEVICE int64_t image(int64_t k) const { return static_cast<int64_t>(rois[5 * k]); }
  ROISERVE_HOST_DEVICE int32_t cell(int64_t k, int64_t c, int64_t ph, int64_t pw) const {
    return argmax[argmax_strides.at(k, c, ph, pw)];
  }
  template <typename acc_t>
  ROISERVE_HOST_DEVICE acc_t value(int64_t k, int64_t c, int64_t ph, int64_t pw) const {
    return static_cast<acc_t>(grad[grad_strides.at(k, c, ph, pw)]);
  }
};

// Backward with atomics, one index per (RoI, channel, bin) output: adds its
// gradient to the cell its argmax names. Channels are the fastest index for
// channels-last maps and bins otherwise, so neighbouring threads add to
// nearby addresses. The adds into one cell come from different RoIs and bins
// in no fixed order.
template <typename scalar_t>
struct MaxPoolBackward {
  using acc_t = at::opmath_type<scalar_t>;
  MaxPoolGrad<scalar_t> grad;
  acc_t* grad_input;  // [N, C, H, W] dense in shape.channels_last's layout, zeroed
  MaxPoolShape shape;

  ROISERVE_HOST_DEVICE void operator()(int64_t index) const {
    const int64_t bins = shape.bins();
    const int64_t c = shape.channels_last ? index % shape.channels : index / bins % shape.channels;
    const int64_t bin = shape.channels_last ? index / shape.channels % bins : index % bins;
    const int64_t k = index / (shape.channels * bins);
    const int64_t ph = bin / shape.pooled_width;
    const int64_t pw = bin % shape.pooled_width;
    const int32_t cell = grad.cell(k, c, ph, pw);
    if (cell != -1) {
      atomic_add(grad_input + shape.map().at(grad.image(k), c, cell),
                 grad.template value<acc_t>(k, c, ph, pw));
    }
  }
};

// The deterministic backward (at::globalContext().deterministicAlgorithms()):
// one thread owns one (image, channel) plane and adds every RoI's gradient
// into it in RoI then bin order, as the CPU kernel does: no atomics, the CPU
// kernel's sums on every run, and far less parallelism. (The gather
// formulation, each cell collecting the outputs that chose it, would have to
// search every RoI's bins for every cell.)
template <typename scalar_t>
struct MaxPoolBackwardDeterministic {
  using acc_t = at::opmath_type<scalar_t>;
  MaxPoolGrad<scalar_t> grad;
  int64_t num_rois;
  acc_t* grad_input;  // [N, C, H, W] dense in shape.channels_last's layout, zeroed
  MaxPoolShape shape;

  ROISERVE_HOST_DEVICE void operator()(int64_t index) const {
    const int64_t n = index / shape.channels;
    const int64_t c = index % shape.channels;
    const Layout map = shape.map();
    for (int64_t k = 0; k < num_rois; ++k) {
      if (grad.image(k) != n) {
        continue;
      }
      for (int64_t ph = 0; ph < shape.pooled_height; ++ph) {
        for (int64_t pw = 0; pw < shape.pooled_width; ++pw) {
          const int32_t cell = grad.cell(k, c, ph, pw);
          if (cell != -1) {
            grad_input[map.at(n, c, cell)] += grad.template value<acc_t>(k, c, ph, pw);
          }
        }
      }
    }
  }
};

}  // namespace roiserve::ops::cuda
