#pragma once
// Loop structure of the position-sensitive ops. Each output bin of a RoI reads
// a single input channel, so a RoI touches hundreds of channel planes only a few
// cells each: RoI-major loops (torchvision's) miss the cache on nearly every
// read. Plane-major loops visit each [H, W] plane once, while it sits in cache,
// and pool every RoI of that image from it. One thread owns a plane, which also
// makes the backward pass race-free and independent of the thread count.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdint>
#include <vector>

namespace roiserve::ops::cpu {

// RoI indices grouped by the image they belong to, ascending within an image.
template <typename T>
std::vector<std::vector<int64_t>> rois_by_image(const T* rois, int64_t num_rois, int64_t batch) {
  std::vector<std::vector<int64_t>> groups(batch);
  for (int64_t k = 0; k < num_rois; ++k) {
    groups[static_cast<int64_t>(rois[5 * k])].push_back(k);
  }
  return groups;
}

// Position-sensitive channel c reads bin (ph, pw) = ((c / PW) % PH, c % PW).
struct PositionSensitiveBin {
  int64_t ph;
  int64_t pw;
};

inline PositionSensitiveBin bin_of_channel(int64_t channel, int64_t pooled_height,
                                           int64_t pooled_width) {
  const int64_t bin = channel % (pooled_height * pooled_width);
  return {bin / pooled_width, bin % pooled_width};
}

// The channel_mapping output of the position-sensitive ops: [K, C_out, PH, PW]
// holding the input channel each output element read, which is always its own
// flat index within the RoI.
inline at::Tensor position_sensitive_channel_mapping(int64_t num_rois, int64_t channels,
                                                     int64_t pooled_height, int64_t pooled_width,
                                                     const at::TensorOptions& options) {
  return at::arange(channels, options.dtype(at::kInt))
      .repeat({num_rois, 1})
      .view({num_rois, channels / (pooled_height * pooled_width), pooled_height, pooled_width});
}

// Asks the memory system for a plane ahead of its use. The pooling loops touch
// a plane's cache lines in RoI order, i.e. at random, so without this every
// first touch waits for DRAM; a sequential run of prefetches streams it.
inline void prefetch_plane(const void* plane, int64_t bytes, bool for_write) {
  const auto* p = static_cast<const char*>(plane);
  for (int64_t offset = 0; offset < bytes; offset += 64) {
    if (for_write) {
      __builtin_prefetch(p + offset, 1);
    } else {
      __builtin_prefetch(p + offset, 0);
    }
  }
}

// fn(image, channel) for every plane of a [batch, channels, H, W] tensor at
// `data`, each plane prefetched while the one before it is pooled.
template <typename T, typename F>
void for_each_plane(int64_t batch, int64_t channels, int64_t plane_size, const T* data,
                    bool for_write, const F& fn) {
  const int64_t bytes = plane_size * static_cast<int64_t>(sizeof(T));
  at::parallel_for(0, batch * channels, 1, [&](int64_t begin, int64_t end) {
    prefetch_plane(data + begin * plane_size, bytes, for_write);
    for (int64_t p = begin; p < end; ++p) {
      if (p + 1 < end) {
        prefetch_plane(data + (p + 1) * plane_size, bytes, for_write);
      }
      fn(p / channels, p % channels);
    }
  });
}

}  // namespace roiserve::ops::cpu
