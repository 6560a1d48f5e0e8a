#pragma once
// NMS's CUDA kernel bodies, compiled by nvcc for the GPU and by the host
// compiler for the emulation (host/). Boxes are visited in score order (rank
// r is the r-th highest score) and cut into tiles of 64, one bit per box of a
// 64-bit word:
// - NmsMask: one block per (row tile, column tile) pair with row <= column,
//   one thread per row box. The column tile's boxes are staged in shared
//   memory; each thread writes the word of column boxes that its row box
//   suppresses (only lower-ranked ones) to mask[column tile][row]. Consecutive
//   threads write consecutive words, so the mask, the bulk of the traffic, is
//   written coalesced.
// - NmsReduce: one block runs the greedy pass over the mask on the device
//   (torchvision copies the mask to the host for it). Per tile, one thread
//   resolves the tile's own boxes in rank order from its diagonal words, then
//   every thread ORs the kept boxes' words into the removed bits of one or more
//   later tiles: two block syncs per 64 boxes.
#include <ATen/OpMathType.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "ops/common/host_device.h"
#include "ops/cuda/device_primitives.h"

namespace roiserve::ops::cuda {

constexpr int kNmsTile = 64;  // boxes per tile: the bits of a mask word
// Up to 64 * 256 boxes, each thread of the greedy pass updates one later tile
// per tile; beyond, several.
constexpr int kNmsReduceThreads = 256;

ROISERVE_HOST_DEVICE inline int nms_tile_size(int64_t tile, int64_t count) {
  return static_cast<int>(std::min<int64_t>(kNmsTile, count - tile * kNmsTile));
}

// Block `index` of the upper triangle of tile pairs, column by column: column
// c holds the blocks c(c+1)/2 + row for row in [0, c]. For any index a grid
// can hold (< 2^31), 8 * index + 1 is exact in a double and its square root,
// unless exactly 2c + 1, far enough from 2c + 3 for the truncation to be exact.
ROISERVE_HOST_DEVICE inline void upper_triangle_tile(int64_t index, int64_t& row, int64_t& column) {
  column = static_cast<int64_t>((sqrt(8.0 * static_cast<double>(index) + 1.0) - 1.0) / 2.0);
  row = index - column * (column + 1) / 2;
}

template <typename acc_t>
struct NmsBox {
  acc_t x1, y1, x2, y2, area;
};

template <typename scalar_t>
struct NmsMask {
  using acc_t = at::opmath_type<scalar_t>;

  const scalar_t* boxes;  // [count, 4], any strides
  int64_t box_stride, coordinate_stride;
  const int64_t* order;  // box index of each rank
  int64_t count;
  double iou_threshold;
  uint64_t* mask;  // [tiles, count]

  // The area as the CPU kernel computes it, in acc_t (float for the reduced
  // types, whose boxes the CPU kernel does not take: the results are those of
  // the CPU kernel on the boxes converted to float).
  ROISERVE_HOST_DEVICE NmsBox<acc_t> box(int64_t rank) const {
    const scalar_t* b = boxes + order[rank] * box_stride;
    const auto x1 = static_cast<acc_t>(b[0]);
    const auto y1 = static_cast<acc_t>(b[coordinate_stride]);
    const auto x2 = static_cast<acc_t>(b[2 * coordinate_stride]);
    const auto y2 = static_cast<acc_t>(b[3 * coordinate_stride]);
    return {x1, y1, x2, y2, mul_rn(sub_rn(x2, x1), sub_rn(y2, y1))};
  }

  // The CPU kernel's IoU test, operation for operation and with the kept box
  // first in every min and max, so both agree on NaNs and on ties with the
  // threshold (compared in double, as there).
  ROISERVE_HOST_DEVICE bool suppresses(const NmsBox<acc_t>& kept,
                                       const NmsBox<acc_t>& other) const {
    const acc_t w = std::max(static_cast<acc_t>(0),
                             sub_rn(std::min(kept.x2, other.x2), std::max(kept.x1, other.x1)));
    const acc_t h = std::max(static_cast<acc_t>(0),
                             sub_rn(std::min(kept.y2, other.y2), std::max(kept.y1, other.y1)));
    const acc_t inter = mul_rn(w, h);
    const acc_t iou = div_rn(inter, sub_rn(add_rn(kept.area, other.area), inter));
    return static_cast<double>(iou) > iou_threshold;
  }

  // Threads: kNmsTile. Shared: kNmsTile NmsBox<acc_t>.
  template <typename Block>
  ROISERVE_HOST_DEVICE void operator()(const Block& block) const {
    int64_t row_tile = 0;
    int64_t column_tile = 0;
    upper_triangle_tile(block.index(), row_tile, column_tile);
    NmsBox<acc_t>* columns = block.template shared<NmsBox<acc_t>>();
    const int column_size = nms_tile_size(column_tile, count);
    block.for_each_thread([&](int thread) {
      if (thread < column_size) {
        columns[thread] = box(column_tile * kNmsTile + thread);
      }
    });
    block.sync();
    block.for_each_thread([&](int thread) {
      const int64_t row = row_tile * kNmsTile + thread;
      if (row >= count) {
        return;
      }
      const NmsBox<acc_t> kept = box(row);
      // Only lower-ranked boxes: on the diagonal, those after `row` in the tile.
      uint64_t suppressed = 0;
      for (int c = row_tile == column_tile ? thread + 1 : 0; c < column_size; ++c) {
        if (suppresses(kept, columns[c])) {
          suppressed |= uint64_t{1} << c;
        }
      }
      mask[column_tile * count + row] = suppressed;
    });
  }
};

struct NmsReduce {
  const uint64_t* mask;  // [tiles, count], as NmsMask wrote it
  int64_t count;
  int64_t tiles;
  // [tiles] scratch: the removed bits of each tile. In global memory rather
  // than shared, whose 48 KiB would cap the count at 64 * 6144 boxes; one
  // thread at a time touches each word, between syncs.
  uint64_t* removed;
  bool* keep;  // [count]: whether the box of each rank is kept

  // The diagonal words of `tile` (its boxes' suppression of each other).
  ROISERVE_HOST_DEVICE void stage_diagonal(int64_t tile, int thread, uint64_t* diagonal) const {
    if (thread < nms_tile_size(tile, count)) {
      diagonal[thread] = mask[tile * count + tile * kNmsTile + thread];
    }
  }

  // One block. Shared: kNmsTile + 1 words, the current tile's diagonal and
  // its kept bits.
  template <typename Block>
  ROISERVE_HOST_DEVICE void operator()(const Block& block) const {
    uint64_t* diagonal = block.template shared<uint64_t>();
    uint64_t* kept_bits = diagonal + kNmsTile;
    block.for_each_thread([&](int thread) {
      for (int64_t tile = thread; tile < tiles; tile += block.threads()) {
        removed[tile] = 0;
      }
      stage_diagonal(0, thread, diagonal);
    });
    block.sync();
    for (int64_t tile = 0; tile < tiles; ++tile) {
      const int size = nms_tile_size(tile, count);
      block.for_each_thread([&](int thread) {
        if (thread != 0) {
          return;
        }
        uint64_t removed_bits = removed[tile];
        uint64_t kept = 0;
        for (int b = 0; b < size; ++b) {
          if (((removed_bits >> b) & 1) == 0) {
            kept |= uint64_t{1} << b;
            removed_bits |= diagonal[b];
          }
        }
        *kept_bits = kept;
      });
      block.sync();
      block.for_each_thread([&](int thread) {
        const uint64_t kept = *kept_bits;
        const int64_t start = tile * kNmsTile;
        if (thread < size) {
          keep[start + thread] = ((kept >> thread) & 1) != 0;
        }
        for (int64_t later = tile + 1 + thread; later < tiles; later += block.threads()) {
          const uint64_t* words = mask + later * count + start;
          uint64_t suppressed = 0;
          for (int b = 0; b < size; ++b) {
            if (((kept >> b) & 1) != 0) {
              suppressed |= words[b];
            }
          }
          removed[later] |= suppressed;
        }
        if (tile + 1 < tiles) {
          stage_diagonal(tile + 1, thread, diagonal);
        }
      });
      block.sync();
    }
  }
};

}  // namespace roiserve::ops::cuda
