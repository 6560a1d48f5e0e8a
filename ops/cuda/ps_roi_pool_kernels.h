#pragma once
// PSRoIPool's way of pooling a bin, for the position-sensitive kernels
// (position_sensitive_blocks.h), compiled by nvcc for the GPU and by the host
// compiler for the emulation (host/). A block's threads first lay out its
// RoI's bins (pooled_height row ranges and pooled_width column ranges) in
// shared memory, then each averages the cells of its channel's bin. Semantics
// are the CPU kernel's (ops/cpu/ps_roi_pool_kernel.cpp): the backward is the
// exact gradient of the forward, both using the forward's bins.
#include <cstdint>

#include "ops/common/bin_range.h"
#include "ops/common/position_sensitive.h"
#include "ops/cuda/bin_table.h"
#include "ops/cuda/position_sensitive_blocks.h"

namespace roiserve::ops::cuda {

template <typename acc_t>
struct PSRoIPoolMethod {
  using Table = BinTable<PSRoIPoolCells<acc_t>>;
  acc_t spatial_scale;

  template <typename Roi>
  ROISERVE_HOST_DEVICE Table table(const Roi* roi, const PositionSensitiveShape& shape,
                                   BinRange* shared) const {
    return Table(ps_roi_pool_cells(roi, spatial_scale), shape.pooled_height, shape.pooled_width,
                 shape.height, shape.width, shared);
  }

  // An empty bin pools to 0.
  template <typename Read>
  ROISERVE_HOST_DEVICE acc_t pool(const Table& table, const PositionSensitiveShape& shape,
                                  const PositionSensitiveBin& bin, const Read& read) const {
    const BinRange r = table.row(bin.ph);
    const BinRange q = table.col(bin.pw);
    acc_t sum = 0;
    for (int64_t h = r.start; h < r.end; ++h) {
      for (int64_t w = q.start; w < q.end; ++w) {
        sum += read(h * shape.width + w);
      }
    }
    const auto area = static_cast<acc_t>((r.end - r.start) * (q.end - q.start));
    return (r.empty() || q.empty()) ? acc_t(0) : sum / area;
  }

  // An equal share to every cell of the bin.
  template <typename Add>
  ROISERVE_HOST_DEVICE void scatter(const Table& table, const PositionSensitiveShape& shape,
                                    const PositionSensitiveBin& bin, acc_t g,
                                    const Add& add) const {
    const BinRange r = table.row(bin.ph);
    const BinRange q = table.col(bin.pw);
    if (r.empty() || q.empty()) {
      return;
    }
    const auto area = static_cast<acc_t>((r.end - r.start) * (q.end - q.start));
    const acc_t share = g / area;
    for (int64_t h = r.start; h < r.end; ++h) {
      for (int64_t w = q.start; w < q.end; ++w) {
        add(h * shape.width + w, share);
      }
    }
  }
};

}  // namespace roiserve::ops::cuda
