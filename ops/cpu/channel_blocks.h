#pragma once
// Channels-last pooling over NCHW features without converting the whole map.
// The kernels want each tap to be a contiguous run over channels; converting a
// [N, C, H, W] map at once writes a fresh map-sized buffer (page faults, and a
// pass through memory) before any pooling starts. Instead the work is split
// into (channel block, image) tasks: a task copies its block of channels of one
// image into a channels-last buffer small enough to stay in cache, pools every
// RoI of that image from it, and writes each RoI's [block, bins] slice of the
// NCHW output, which is contiguous.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "ops/cpu/layout.h"
#include "ops/cpu/simd.h"
#include "ops/cpu/task_queue.h"

namespace roiserve::ops::cpu {

// Channels per block: a [H, W, 32] float block of a 100 × 152 FPN level is
// 1.9 MB, which the caches hold while every RoI of the image reads its part,
// and a tap is two cache lines of float. Measured against 16 and 64 on the
// FPN workload (benchmarks/compare_torchvision.py), 32 was fastest.
constexpr int64_t kChannelBlock = 32;

// The RoIs of a batch grouped by image, each group in RoI order: [begin(n),
// end(n)) are the indices of the RoIs whose batch index is n.
class RoIsByImage {
 public:
  template <typename T>
  RoIsByImage(const T* rois, int64_t num_rois, int64_t batch_size)
      : starts_(batch_size + 1, 0), order_(num_rois) {
    for (int64_t k = 0; k < num_rois; ++k) {
      ++starts_[image_of(rois, k) + 1];
    }
    for (int64_t n = 0; n < batch_size; ++n) {
      starts_[n + 1] += starts_[n];
    }
    std::vector<int64_t> next(starts_.begin(), starts_.end() - 1);
    for (int64_t k = 0; k < num_rois; ++k) {
      order_[next[image_of(rois, k)]++] = k;
    }
  }

  const int64_t* begin(int64_t n) const { return order_.data() + starts_[n]; }
  const int64_t* end(int64_t n) const { return order_.data() + starts_[n + 1]; }

 private:
  template <typename T>
  static int64_t image_of(const T* rois, int64_t k) {
    return static_cast<int64_t>(rois[5 * k]);
  }

  std::vector<int64_t> starts_;
  std::vector<int64_t> order_;
};

// block[p, c - c_begin] = image[c, p] for the pixels p of one [C, H * W] image
// and channels [c_begin, c_end): a transpose. Inlined into each kernel's
// ROISERVE_CPU_CLONES function, so it is compiled for the same instruction
// sets.
template <typename T>
ROISERVE_ALWAYS_INLINE void copy_channel_block(const T* image, int64_t pixels, int64_t c_begin,
                                               int64_t c_end, T* block) {
  transpose(image + c_begin * pixels, c_end - c_begin, pixels, block);
}

// Runs fn(image, c_begin, c_end, first, last, block) for every image of an
// NCHW batch of features [N, C, pixels] and every block of channels
// [c_begin, c_end), in parallel, the tasks taken one at a time (task_queue.h).
// image points at that image's [C, pixels] planes, [first, last) are the
// indices of its RoIs (rois [K, 5]), and block is the running thread's scratch
// of pixels × kChannelBlock elements, for fn to fill with copy_channel_block
// and pool from.
template <typename T, typename F>
void for_each_channel_block_of_images(const T* features, const T* rois, int64_t num_rois,
                                      int64_t batch_size, int64_t channels, int64_t pixels,
                                      const F& fn) {
  const RoIsByImage rois_by_image(rois, num_rois, batch_size);
  const int64_t blocks = (channels + kChannelBlock - 1) / kChannelBlock;
  drain_in_parallel(blocks * batch_size, [&](TaskQueue& tasks) {
    // Not zeroed: each task overwrites the part it reads.
    const std::unique_ptr<T[]> block(new T[pixels * kChannelBlock]);
    for (int64_t task; tasks.take(task);) {
      const int64_t n = task % batch_size;
      if (rois_by_image.begin(n) == rois_by_image.end(n)) {
        continue;  // an image without RoIs is never copied
      }
      const int64_t c_begin = task / batch_size * kChannelBlock;
      fn(features + n * channels * pixels, c_begin, std::min(c_begin + kChannelBlock, channels),
         rois_by_image.begin(n), rois_by_image.end(n), block.get());
    }
  });
}

}  // namespace roiserve::ops::cpu
