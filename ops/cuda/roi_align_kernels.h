#pragma once
// RoIAlign's CUDA kernel bodies, compiled by nvcc for the GPU and by the host
// compiler for the emulation (host/). One block pools one RoI over a chunk of
// channels: its threads first lay out the RoI's sample rows and columns in
// shared memory (pooled_height * grid_h + pooled_width * grid_w descriptors,
// computed once for every channel and bin), then each thread pools
// (channel, bin) outputs. Channels-last features put consecutive channels on
// consecutive threads, so a warp reads each tap as one coalesced run; NCHW
// features put consecutive bins there, so the output is written coalesced.
#include <ATen/OpMathType.h>

#include <cstdint>

#include "ops/common/axis_sample.h"
#include "ops/cuda/dense_layout.h"
#include "ops/cuda/device_primitives.h"
#include "ops/cuda/roi_block.h"
#include "ops/cuda/sample_grid.h"
#include "ops/cuda/sample_table.h"

namespace roiserve::ops::cuda {

constexpr int kRoIAlignThreads = 256;
// Channels one block pools: a multiple of the warp size, so channels-last
// reads stay whole-warp runs.
constexpr int64_t kRoIAlignChannelChunk = 64;

// What both RoIAlign kernels share: the problem's shape and one RoI's samples.
template <typename acc_t>
struct RoIAlignShape {
  int64_t channels, height, width, pooled_height, pooled_width, sampling_ratio;
  int64_t channel_chunk;  // channels per block
  acc_t spatial_scale;
  bool aligned;

  ROISERVE_HOST_DEVICE int64_t chunks() const { return channel_chunks(channels, channel_chunk); }

  template <typename Roi>
  ROISERVE_HOST_DEVICE SampleTable<acc_t> table(const Roi* roi, AxisSample<acc_t>* shared) const {
    return SampleTable<acc_t>(
        roi_sampling<acc_t>(roi, spatial_scale, aligned ? acc_t(0.5) : acc_t(0), !aligned,
                            pooled_height, pooled_width, sampling_ratio),
        pooled_height, pooled_width, height, width, shared);
  }

  template <typename Block, typename scalar_t>
  ROISERVE_HOST_DEVICE RoIBlock<scalar_t, SampleTable<acc_t>> start_block(
      const Block& block, const scalar_t* rois) const {
    return start_roi_block(
        block, rois, channels, channel_chunk,
        [&](const scalar_t* roi, AxisSample<acc_t>* shared) { return table(roi, shared); });
  }
};

template <typename scalar_t>
struct RoIAlignForward {
  using acc_t = at::opmath_type<scalar_t>;
  const scalar_t* input;  // [N, C, H, W] dense in `layout`
  const scalar_t* rois;   // [K, 5] dense
  scalar_t* output;       // [K, C, PH, PW] dense in `layout`
  RoIAlignShape<acc_t> shape;
  bool channels_last;

  template <typename Block>
  ROISERVE_HOST_DEVICE void operator()(const Block& block) const {
    const auto work = shape.start_block(block, rois);
    const int64_t bins = shape.pooled_height * shape.pooled_width;
    const Layout in{channels_last, shape.channels, shape.height * shape.width};
    const Layout out{channels_last, shape.channels, bins};
    const int64_t n = work.image();
    const SampleTable<acc_t>& table = work.table;
    for_each_channel_bin(block, work.chunk, bins, channels_last, [&](int64_t c, int64_t bin) {
      const int64_t ph = bin / shape.pooled_width;
      const int64_t pw = bin % shape.pooled_width;
      acc_t sum = 0;
      for_each_tap(table, ph, pw, [&](const Taps<acc_t>& t) {
        const acc_t v1 = static_cast<acc_t>(input[in.at(n, c, t.y_low * shape.width + t.x_low)]);
        const acc_t v2 = static_cast<acc_t>(input[in.at(n, c, t.y_low * shape.width + t.x_high)]);
        const acc_t v3 = static_cast<acc_t>(input[in.at(n, c, t.y_high * shape.width + t.x_low)]);
        const acc_t v4 = static_cast<acc_t>(input[in.at(n, c, t.y_high * shape.width + t.x_high)]);
        sum += t.w1 * v1 + t.w2 * v2 + t.w3 * v3 + t.w4 * v4;
      });
      output[out.at(work.chunk.roi, c, bin)] = static_cast<scalar_t>(sum / table.sampling().count);
    });
  }
};

// Backward with atomics: every (RoI, channel, bin) adds its share of the
// gradient to the four taps of each of its samples. The adds into one
// element come from different RoIs and samples in no fixed order.
template <typename scalar_t>
struct RoIAlignBackward {
  using acc_t = at::opmath_type<scalar_t>;
  const scalar_t* grad;  // [K, C, PH, PW], any strides
  int64_t grad_stride[4];
  const scalar_t* rois;
  acc_t* grad_input;  // [N, C, H, W] dense in `layout`, zeroed
  RoIAlignShape<acc_t> shape;
  bool channels_last;

  template <typename Block>
  ROISERVE_HOST_DEVICE void operator()(const Block& block) const {
    const auto work = shape.start_block(block, rois);
    const int64_t bins = shape.pooled_height * shape.pooled_width;
    const Layout in{channels_last, shape.channels, shape.height * shape.width};
    const int64_t n = work.image();
    const int64_t k = work.chunk.roi;
    const SampleTable<acc_t>& table = work.table;
    const acc_t count = table.sampling().count;
    for_each_channel_bin(block, work.chunk, bins, channels_last, [&](int64_t c, int64_t bin) {
      const int64_t ph = bin / shape.pooled_width;
      const int64_t pw = bin % shape.pooled_width;
      const acc_t g = static_cast<acc_t>(grad[k * grad_stride[0] + c * grad_stride[1] +
                                              ph * grad_stride[2] + pw * grad_stride[3]]);
      for_each_tap(table, ph, pw, [&](const Taps<acc_t>& t) {
        atomic_add(grad_input + in.at(n, c, t.y_low * shape.width + t.x_low), g * t.w1 / count);
        atomic_add(grad_input + in.at(n, c, t.y_low * shape.width + t.x_high), g * t.w2 / count);
        atomic_add(grad_input + in.at(n, c, t.y_high * shape.width + t.x_low), g * t.w3 / count);
        atomic_add(grad_input + in.at(n, c, t.y_high * shape.width + t.x_high), g * t.w4 / count);
      });
    });
  }
};

// The deterministic backward (at::globalContext().deterministicAlgorithms()):
// one thread owns one channel of one image and adds every RoI's gradient into
// it in RoI order, as the CPU kernel does: no atomics, the same sums on every
// run, and far less parallelism.
template <typename scalar_t>
struct RoIAlignBackwardDeterministic {
  using acc_t = at::opmath_type<scalar_t>;
  const scalar_t* grad;
  int64_t grad_stride[4];
  const scalar_t* rois;
  int64_t num_rois;
  acc_t* grad_input;  // [N, C, H, W] dense in `layout`, zeroed
  RoIAlignShape<acc_t> shape;
  bool channels_last;

  ROISERVE_HOST_DEVICE void operator()(int64_t index) const {
    const int64_t n = index / shape.channels;
    const int64_t c = index % shape.channels;
    const Layout in{channels_last, shape.channels, shape.height * shape.width};
    for (int64_t k = 0; k < num_rois; ++k) {
      const scalar_t* roi = rois + 5 * k;
      if (static_cast<int64_t>(roi[0]) != n) {
        continue;
      }
      const SampleTable<acc_t> table = shape.table(roi, nullptr);
      const acc_t count = table.sampling().count;
      for (int64_t ph = 0; ph < shape.pooled_height; ++ph) {
        for (int64_t pw = 0; pw < shape.pooled_width; ++pw) {
          const acc_t g = static_cast<acc_t>(grad[k * grad_stride[0] + c * grad_stride[1] +
                                                  ph * grad_stride[2] + pw * grad_stride[3]]);
          for_each_tap(table, ph, pw, [&](const Taps<acc_t>& t) {
            grad_input[in.at(n, c, t.y_low * shape.width + t.x_low)] += g * t.w1 / count;
            grad_input[in.at(n, c, t.y_low * shape.width + t.x_high)] += g * t.w2 / count;
            grad_input[in.at(n, c, t.y_high * shape.width + t.x_low)] += g * t.w3 / count;
            grad_input[in.at(n, c, t.y_high * shape.width + t.x_high)] += g * t.w4 / count;
          });
        }
      }
    }
  }
};

}  // namespace roiserve::ops::cuda
