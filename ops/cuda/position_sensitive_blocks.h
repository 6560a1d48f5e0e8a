#pragma once
// The position-sensitive kernels (PSRoIPool, PSRoIAlign), written once over a
// Method that pools one bin (ps_roi_pool_kernels.h, ps_roi_align_kernels.h).
// Output element c of RoI k (c the flat index in [C_out, PH, PW]) reads input
// channel c alone, so one thread pools one (RoI, channel), and one block pools
// one RoI over a chunk of consecutive channels after laying out the RoI's
// geometry in shared memory (roi_block.h). Consecutive threads then write
// consecutive outputs and channel_mapping entries and read consecutive
// gradients; each reads its own input plane, as the op's channel mapping
// dictates.
#include <ATen/OpMathType.h>

#include <cstdint>

#include "ops/common/host_device.h"
#include "ops/common/position_sensitive.h"
#include "ops/cuda/dense_layout.h"
#include "ops/cuda/device_primitives.h"
#include "ops/cuda/roi_block.h"

namespace roiserve::ops::cuda {

constexpr int64_t kPositionSensitiveMaxThreads = 256;

struct PositionSensitiveShape {
  int64_t channels, height, width, pooled_height, pooled_width;
  int64_t channel_chunk;  // channels per block, one per thread

  ROISERVE_HOST_DEVICE int64_t chunks() const { return channel_chunks(channels, channel_chunk); }
  ROISERVE_HOST_DEVICE int64_t bins() const { return pooled_height * pooled_width; }

  ROISERVE_HOST_DEVICE PositionSensitiveBin bin_of(int64_t channel) const {
    return bin_of_channel(channel, pooled_height, pooled_width);
  }
};

// One thread per channel, in whole warps, at most kPositionSensitiveMaxThreads
// a block: a small channel count leaves no idle warps.
inline PositionSensitiveShape position_sensitive_shape(int64_t channels, int64_t height,
                                                       int64_t width, int64_t pooled_height,
                                                       int64_t pooled_width) {
  constexpr int64_t kWarp = 32;
  const int64_t warps = ceil_div(channels > 0 ? channels : int64_t{1}, kWarp);
  const int64_t threads =
      warps * kWarp < kPositionSensitiveMaxThreads ? warps * kWarp : kPositionSensitiveMaxThreads;
  return {channels, height, width, pooled_height, pooled_width, threads};
}

// The incoming gradient [K, C_out, PH, PW], of any strides, by (RoI, channel).
template <typename scalar_t>
struct PositionSensitiveGrad {
  const scalar_t* data;
  int64_t stride[4];

  ROISERVE_HOST_DEVICE scalar_t at(int64_t roi, int64_t channel, const PositionSensitiveBin& bin,
                                   int64_t bins) const {
    return data[roi * stride[0] + (channel / bins) * stride[1] + bin.ph * stride[2] +
                bin.pw * stride[3]];
  }
};

// A Method gives, for one RoI and one bin:
//   Table: the RoI's geometry (a SampleTable or a BinTable);
//   table(roi, shape, shared): that geometry, in `shared` when not null;
//   pool(table, shape, bin, read): the bin's pooled value, read(cell) being the
//     channel's input at cell h * W + w;
//   scatter(table, shape, bin, g, add): add(cell, share) for every share of the
//     bin's gradient g, in the CPU kernel's order.
template <typename Block, typename scalar_t, typename Method>
ROISERVE_HOST_DEVICE auto start_position_sensitive_block(const Block& block, const scalar_t* rois,
                                                         const PositionSensitiveShape& shape,
                                                         const Method& method) {
  return start_roi_block(block, rois, shape.channels, shape.channel_chunk,
                         [&](const scalar_t* roi, typename Method::Table::Entry* shared) {
                           return method.table(roi, shape, shared);
                         });
}

// fn(c) for each channel of the chunk, one a thread.
template <typename Block, typename F>
ROISERVE_HOST_DEVICE void for_each_channel(const Block& block, const ChannelChunk& chunk,
                                           const F& fn) {
  block.for_each_thread([&](int thread) {
    for (int64_t c = chunk.begin + thread; c < chunk.end; c += block.threads()) {
      fn(c);
    }
  });
}

template <typename scalar_t, typename Method>
struct PositionSensitiveForward {
  using acc_t = at::opmath_type<scalar_t>;
  const scalar_t* input;     // [N, C, H, W], dense in the layout `channels_last` says
  const scalar_t* rois;      // [K, 5] dense
  scalar_t* output;          // [K, C_out, PH, PW] contiguous
  int32_t* channel_mapping;  // [K, C_out, PH, PW] contiguous
  PositionSensitiveShape shape;
  Method method;
  bool channels_last;

  template <typename Block>
  ROISERVE_HOST_DEVICE void operator()(const Block& block) const {
    const auto work = start_position_sensitive_block(block, rois, shape, method);
    const Layout in{channels_last, shape.channels, shape.height * shape.width};
    const int64_t n = work.image();
    for_each_channel(block, work.chunk, [&](int64_t c) {
      const acc_t value = method.pool(work.table, shape, shape.bin_of(c), [&](int64_t cell) {
        return static_cast<acc_t>(input[in.at(n, c, cell)]);
      });
      const int64_t element = work.chunk.roi * shape.channels + c;
      output[element] = static_cast<scalar_t>(value);
      channel_mapping[element] = static_cast<int32_t>(c);
    });
  }
};

// Backward with atomics: every (RoI, channel) adds its shares of the gradient
// to its bin's cells. The adds into one element come from different RoIs (and
// samples) in no fixed order.
template <typename scalar_t, typename Method>
struct PositionSensitiveBackward {
  using acc_t = at::opmath_type<scalar_t>;
  PositionSensitiveGrad<scalar_t> grad;
  const scalar_t* rois;
  acc_t* grad_input;  // [N, C, H, W] contiguous, zeroed
  PositionSensitiveShape shape;
  Method method;

  template <typename Block>
  ROISERVE_HOST_DEVICE void operator()(const Block& block) const {
    const auto work = start_position_sensitive_block(block, rois, shape, method);
    const int64_t n = work.image();
    for_each_channel(block, work.chunk, [&](int64_t c) {
      const PositionSensitiveBin bin = shape.bin_of(c);
      const acc_t g = static_cast<acc_t>(grad.at(work.chunk.roi, c, bin, shape.bins()));
      acc_t* plane = grad_input + (n * shape.channels + c) * shape.height * shape.width;
      method.scatter(work.table, shape, bin, g,
                     [&](int64_t cell, acc_t share) { atomic_add(plane + cell, share); });
    });
  }
};

// The deterministic backward (at::globalContext().deterministicAlgorithms()):
// one thread owns one (image, channel) plane and adds every RoI's gradient
// into it in RoI order, as the CPU kernels do: no atomics, the CPU kernels'
// sums on every run, and far less parallelism.
template <typename scalar_t, typename Method>
struct PositionSensitiveBackwardDeterministic {
  using acc_t = at::opmath_type<scalar_t>;
  PositionSensitiveGrad<scalar_t> grad;
  const scalar_t* rois;
  int64_t num_rois;
  acc_t* grad_input;  // [N, C, H, W] contiguous, zeroed
  PositionSensitiveShape shape;
  Method method;

  ROISERVE_HOST_DEVICE void operator()(int64_t index) const {
    const int64_t n = index / shape.channels;
    const int64_t c = index % shape.channels;
    const PositionSensitiveBin bin = shape.bin_of(c);
    acc_t* plane = grad_input + index * shape.height * shape.width;
    for (int64_t k = 0; k < num_rois; ++k) {
      const scalar_t* roi = rois + 5 * k;
      if (static_cast<int64_t>(roi[0]) != n) {
        continue;
      }
      const acc_t g = static_cast<acc_t>(grad.at(k, c, bin, shape.bins()));
      method.scatter(method.table(roi, shape, nullptr), shape, bin, g,
                     [&](int64_t cell, acc_t share) { plane[cell] += share; });
    }
  }
};

}  // namespace roiserve::ops::cuda
