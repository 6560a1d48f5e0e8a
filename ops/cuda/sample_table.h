#pragma once
// A RoI's RoIAlign-style sample rows and columns, laid out once per block in
// shared memory and read by every thread of the block: shared by the kernels
// that sample bilinearly (RoIAlign, PSRoIAlign).
#include <cstddef>
#include <cstdint>

#include "ops/common/axis_sample.h"
#include "ops/common/host_device.h"
#include "ops/cuda/sample_grid.h"

namespace roiserve::ops::cuda {

// Shared-memory room for sample descriptors; a RoI that needs more (adaptive
// sampling of a RoI far larger than its bins) computes them per thread.
constexpr int64_t kSharedSamples = 512;

// A RoI's sample rows then columns: in shared memory when they fit, else
// computed where they are used.
template <typename acc_t>
class SampleTable {
 public:
  using Entry = AxisSample<acc_t>;
  static constexpr size_t kSharedBytes = kSharedSamples * sizeof(Entry);

  ROISERVE_HOST_DEVICE SampleTable(const RoISampling<acc_t>& s, int64_t pooled_height,
                                   int64_t pooled_width, int64_t height, int64_t width,
                                   AxisSample<acc_t>* shared)
      : s_(s),
        rows_(pooled_height * s.grid_h),
        size_(rows_ + pooled_width * s.grid_w),
        height_(height),
        width_(width),
        table_(size_ <= kSharedSamples ? shared : nullptr) {}

  // Step 1 (before a sync): thread `thread` of `threads` fills its entries.
  ROISERVE_HOST_DEVICE void fill(int thread, int threads) const {
    if (table_ == nullptr) {
      return;
    }
    for (int64_t i = thread; i < size_; i += threads) {
      table_[i] = i < rows_
                      ? axis_sample(s_.y(i / s_.grid_h, i % s_.grid_h), height_)
                      : axis_sample(s_.x((i - rows_) / s_.grid_w, (i - rows_) % s_.grid_w), width_);
    }
  }

  ROISERVE_HOST_DEVICE AxisSample<acc_t> row(int64_t ph, int64_t iy) const {
    return table_ != nullptr ? table_[ph * s_.grid_h + iy] : axis_sample(s_.y(ph, iy), height_);
  }
  ROISERVE_HOST_DEVICE AxisSample<acc_t> col(int64_t pw, int64_t ix) const {
    return table_ != nullptr ? table_[rows_ + pw * s_.grid_w + ix]
                             : axis_sample(s_.x(pw, ix), width_);
  }
  ROISERVE_HOST_DEVICE const RoISampling<acc_t>& sampling() const { return s_; }

 private:
  RoISampling<acc_t> s_;
  int64_t rows_, size_, height_, width_;
  AxisSample<acc_t>* table_;
};

// fn(taps) for every sample of bin (ph, pw) inside the map, in torchvision's order.
template <typename acc_t, typename F>
ROISERVE_HOST_DEVICE void for_each_tap(const SampleTable<acc_t>& table, int64_t ph, int64_t pw,
                                       const F& fn) {
  const RoISampling<acc_t>& s = table.sampling();
  for (int64_t iy = 0; iy < s.grid_h; ++iy) {
    const AxisSample<acc_t> sy = table.row(ph, iy);
    if (!sy.valid) {
      continue;
    }
    for (int64_t ix = 0; ix < s.grid_w; ++ix) {
      const AxisSample<acc_t> sx = table.col(pw, ix);
      if (sx.valid) {
        fn(taps_of(sy, sx));
      }
    }
  }
}

}  // namespace roiserve::ops::cuda
