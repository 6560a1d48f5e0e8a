#pragma once
// A RoI's quantized bins, laid out once per block in shared memory and read by
// every thread of the block: for the kernels that pool whole cells (RoIPool,
// SPP, PSRoIPool), whose bins come from ops/common/ (RoIPoolCells,
// PSRoIPoolCells).
#include <cstddef>
#include <cstdint>

#include "ops/common/bin_range.h"
#include "ops/common/host_device.h"

namespace roiserve::ops::cuda {

// Shared-memory room for bin ranges; a RoI with more bins along its two axes
// computes them per thread.
constexpr int64_t kSharedBins = 512;

// A RoI's row ranges then column ranges: in shared memory when they fit, else
// computed where they are used. Cells gives bin ph of pooled_height over a map
// of `height` rows as cells.row(ph, pooled_height, height), columns likewise.
template <typename Cells>
class BinTable {
 public:
  using Entry = BinRange;
  static constexpr size_t kSharedBytes = kSharedBins * sizeof(Entry);

  ROISERVE_HOST_DEVICE BinTable(const Cells& cells, int64_t pooled_height, int64_t pooled_width,
                                int64_t height, int64_t width, BinRange* shared)
      : cells_(cells),
        pooled_height_(pooled_height),
        pooled_width_(pooled_width),
        height_(height),
        width_(width),
        table_(pooled_height + pooled_width <= kSharedBins ? shared : nullptr) {}

  // Step 1 (before a sync): thread `thread` of `threads` fills its entries.
  ROISERVE_HOST_DEVICE void fill(int thread, int threads) const {
    if (table_ == nullptr) {
      return;
    }
    for (int64_t i = thread; i < pooled_height_ + pooled_width_; i += threads) {
      table_[i] = i < pooled_height_ ? cells_.row(i, pooled_height_, height_)
                                     : cells_.col(i - pooled_height_, pooled_width_, width_);
    }
  }

  ROISERVE_HOST_DEVICE BinRange row(int64_t ph) const {
    return table_ != nullptr ? table_[ph] : cells_.row(ph, pooled_height_, height_);
  }
  ROISERVE_HOST_DEVICE BinRange col(int64_t pw) const {
    return table_ != nullptr ? table_[pooled_height_ + pw] : cells_.col(pw, pooled_width_, width_);
  }

 private:
  Cells cells_;
  int64_t pooled_height_, pooled_width_, height_, width_;
  BinRange* table_;
};

}  // namespace roiserve::ops::cuda
