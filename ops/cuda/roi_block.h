#pragma once
// How the pooling kernels (RoIAlign, RoIPool/SPP, PSRoIAlign, PSRoIPool) split
// their work: one block pools one RoI over a chunk of consecutive channels,
// after its threads have laid out the RoI's geometry (a SampleTable or a
// BinTable) in shared memory once for every channel and bin.
#include <cstdint>

#include "ops/common/host_device.h"
#include "ops/cuda/device_primitives.h"

namespace roiserve::ops::cuda {

// The channels [begin, end) of RoI `roi` that one block pools.
struct ChannelChunk {
  int64_t roi, begin, end;

  ROISERVE_HOST_DEVICE int64_t size() const { return end - begin; }
};

ROISERVE_HOST_DEVICE inline int64_t channel_chunks(int64_t channels, int64_t channel_chunk) {
  return ceil_div(channels, channel_chunk);
}

// Blocks run RoI-major: the chunks of RoI 0, then those of RoI 1, ...
ROISERVE_HOST_DEVICE inline ChannelChunk chunk_of_block(int64_t block, int64_t channels,
                                                        int64_t channel_chunk) {
  const int64_t chunks = channel_chunks(channels, channel_chunk);
  const int64_t begin = (block % chunks) * channel_chunk;
  const int64_t end = begin + channel_chunk < channels ? begin + channel_chunk : channels;
  return {block / chunks, begin, end};
}

// What a block pools once its geometry is laid out: its chunk, its RoI
// (batch, x1, y1, x2, y2) and the RoI's table.
template <typename scalar_t, typename Table>
struct RoIBlock {
  ChannelChunk chunk;
  const scalar_t* roi;
  Table table;

  ROISERVE_HOST_DEVICE int64_t image() const { return static_cast<int64_t>(roi[0]); }
};

// A pooling block's first step, ending in a sync: finds the block's RoI and
// channel chunk and lays out the RoI's table, make_table(roi, shared), in
// shared memory of Table::Entry.
template <typename Block, typename scalar_t, typename MakeTable>
ROISERVE_HOST_DEVICE auto start_roi_block(const Block& block, const scalar_t* rois,
                                          int64_t channels, int64_t channel_chunk,
                                          const MakeTable& make_table) {
  using Table = decltype(make_table(rois, nullptr));
  const ChannelChunk chunk = chunk_of_block(block.index(), channels, channel_chunk);
  const scalar_t* roi = rois + 5 * chunk.roi;
  const Table table = make_table(roi, block.template shared<typename Table::Entry>());
  block.for_each_thread([&](int thread) { table.fill(thread, block.threads()); });
  block.sync();
  return RoIBlock<scalar_t, Table>{chunk, roi, table};
}

// fn(channel, bin) for each (channel, bin) of the chunk, shared out over the
// block's threads: channels fastest for channels-last maps, so a warp reads
// each cell as one coalesced run, and bins fastest otherwise, so contiguous
// outputs are written coalesced.
template <typename Block, typename F>
ROISERVE_HOST_DEVICE void for_each_channel_bin(const Block& block, const ChannelChunk& chunk,
                                               int64_t bins, bool channels_last, const F& fn) {
  const int64_t channels = chunk.size();
  block.for_each_thread([&](int thread) {
    for (int64_t item = thread; item < channels * bins; item += block.threads()) {
      const int64_t channel = channels_last ? item % channels : item / bins;
      const int64_t bin = channels_last ? item / channels : item % bins;
      fn(chunk.begin + channel, bin);
    }
  });
}

}  // namespace roiserve::ops::cuda
