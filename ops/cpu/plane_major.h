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
#include <tuple>
#include <vector>

#include "ops/common/position_sensitive.h"

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

// Reads one byte of every cache line of a plane, in address order. The pooling
// loops touch a plane's lines in RoI order, i.e. at random, and would wait for
// DRAM on every first touch; an in-order pass is one stream the hardware
// prefetcher runs ahead of. Measured on ps_roi_align (FPN workload, 1 thread):
// 42 ms without, 42 ms with __builtin_prefetch of each line, 17 ms with this.
inline void stream_into_cache(const void* plane, int64_t bytes) {
  const auto* p = static_cast<const volatile unsigned char*>(plane);
  unsigned char sink = 0;
  for (int64_t offset = 0; offset < bytes; offset += 64) {
    sink ^= p[offset];
  }
  asm volatile("" : : "r"(sink));
}

// fn(image, channel) for every plane of a [batch, channels, H, W] tensor at
// `data`, each streamed into cache first.
template <typename T, typename F>
void for_each_plane(int64_t batch, int64_t channels, int64_t plane_size, const T* data,
                    const F& fn) {
  at::parallel_for(0, batch * channels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      stream_into_cache(data + p * plane_size, plane_size * static_cast<int64_t>(sizeof(T)));
      fn(p / channels, p % channels);
    }
  });
}

// out[k] = bins.pool(plane, width, k, ph, pw) for the RoIs `ks` of the plane's
// image. Not inlined into the plane loop, where GCC ran short of registers and
// spilled inside ps_roi_align's sampling loop (9% more instructions).
template <typename T, typename Bins>
[[gnu::noinline]] void pool_plane(const Bins& bins, const T* plane, int64_t width,
                                  const std::vector<int64_t>& ks, int64_t ph, int64_t pw, T* out) {
  for (const int64_t k : ks) {
    out[k] = bins.pool(plane, width, k, ph, pw);
  }
}

// bins.scatter(grad[k], plane, width, k, ph, pw) for the RoIs `ks` of the
// plane's image; not inlined, as pool_plane.
template <typename T, typename Bins>
[[gnu::noinline]] void scatter_plane(const Bins& bins, const T* grad, T* plane, int64_t width,
                                     const std::vector<int64_t>& ks, int64_t ph, int64_t pw) {
  for (const int64_t k : ks) {
    bins.scatter(grad[k], plane, width, k, ph, pw);
  }
}

// The forward of a position-sensitive op over checked float32 or float64
// arguments. bins = make_bins(rois.data_ptr<T>()) holds the geometry of every
// RoI, and bins.pool(plane, width, k, ph, pw) pools RoI k's bin (ph, pw) from
// the [H, width] plane of the input channel that the bin reads. Returns
// (output [K, C / (PH * PW), PH, PW], channel_mapping).
template <typename MakeBins>
std::tuple<at::Tensor, at::Tensor> position_sensitive_forward(const at::Tensor& input,
                                                              const at::Tensor& rois,
                                                              int64_t pooled_height,
                                                              int64_t pooled_width,
                                                              const MakeBins& make_bins) {
  const int64_t batch = input.size(0);
  const int64_t channels = input.size(1);
  const int64_t height = input.size(2);
  const int64_t width = input.size(3);
  const int64_t num_rois = rois.size(0);
  const int64_t channels_out = channels / (pooled_height * pooled_width);
  const at::Tensor mapping = position_sensitive_channel_mapping(num_rois, channels, pooled_height,
                                                                pooled_width, input.options());
  if (num_rois == 0 || channels == 0 || height == 0 || width == 0) {
    return {at::zeros({num_rois, channels_out, pooled_height, pooled_width}, input.options()),
            mapping};
  }
  const at::Tensor features = input.contiguous();
  const at::Tensor boxes = rois.contiguous();
  // Pooled channel-major, [C, K], so that each plane writes one row.
  at::Tensor pooled = at::empty({channels, num_rois}, input.options());

  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "position_sensitive_forward", [&] {
    const scalar_t* data = features.data_ptr<scalar_t>();
    const scalar_t* roi_data = boxes.data_ptr<scalar_t>();
    scalar_t* out = pooled.data_ptr<scalar_t>();
    const auto bins = make_bins(roi_data);
    const auto groups = rois_by_image(roi_data, num_rois, batch);
    for_each_plane(batch, channels, height * width, data, [&](int64_t n, int64_t c) {
      const auto [ph, pw] = bin_of_channel(c, pooled_height, pooled_width);
      pool_plane(bins, data + (n * channels + c) * height * width, width, groups[n], ph, pw,
                 out + c * num_rois);
    });
  });
  return {pooled.t().contiguous().view({num_rois, channels_out, pooled_height, pooled_width}),
          mapping};
}

// The backward of a position-sensitive op over checked float32 or float64
// arguments: bins as in position_sensitive_forward, and bins.scatter(g, plane,
// width, k, ph, pw) adds the gradient g of RoI k's bin (ph, pw) into the
// [H, width] plane of the gradient of the channel that the bin read. Returns
// the gradient of the input, [batch_size, channels, height, width].
template <typename MakeBins>
at::Tensor position_sensitive_backward(const at::Tensor& grad, const at::Tensor& rois,
                                       int64_t pooled_height, int64_t pooled_width,
                                       int64_t batch_size, int64_t channels, int64_t height,
                                       int64_t width, const MakeBins& make_bins) {
  at::Tensor grad_input = at::zeros({batch_size, channels, height, width}, grad.options());
  const int64_t num_rois = rois.size(0);
  if (num_rois == 0) {
    return grad_input;
  }
  const at::Tensor boxes = rois.contiguous();
  // Channel-major [C, K], so that each plane reads one row.
  const at::Tensor grad_by_channel = grad.reshape({num_rois, channels}).t().contiguous();

  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "position_sensitive_backward", [&] {
    const scalar_t* roi_data = boxes.data_ptr<scalar_t>();
    const scalar_t* g = grad_by_channel.data_ptr<scalar_t>();
    scalar_t* out = grad_input.data_ptr<scalar_t>();
    const auto bins = make_bins(roi_data);
    const auto groups = rois_by_image(roi_data, num_rois, batch_size);
    for_each_plane(batch_size, channels, height * width, out, [&](int64_t n, int64_t c) {
      const auto [ph, pw] = bin_of_channel(c, pooled_height, pooled_width);
      scatter_plane(bins, g + c * num_rois, out + (n * channels + c) * height * width, width,
                    groups[n], ph, pw);
    });
  });
  return grad_input;
}

}  // namespace roiserve::ops::cpu
