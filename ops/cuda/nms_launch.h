#pragma once
// NMS's launcher, written once for the GPU (nms.cu) and for its host emulation
// (host/): the CPU kernel's checks, a stable score sort on the device, the
// suppression mask, the greedy pass over it, and the kept indices in score
// order.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>

#include <tuple>

#include "ops/common/checks.h"
#include "ops/cuda/device_primitives.h"
#include "ops/cuda/nms_kernels.h"

namespace roiserve::ops::cuda {

template <typename Backend>
at::Tensor nms_forward(const at::Tensor& dets, const at::Tensor& scores, double iou_threshold) {
  detail::check_nms_args("nms", dets, scores);
  [[maybe_unused]] const auto guard = Backend::device_guard(dets);
  const int64_t count = dets.size(0);
  if (count == 0) {
    return at::empty({0}, dets.options().dtype(at::kLong));
  }
  // Stable, so that equal scores keep their index order, as on the CPU.
  const at::Tensor order =
      std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  const int64_t tiles = ceil_div<int64_t>(count, kNmsTile);
  // uint64 words, held in int64 tensors (LibTorch before 2.3 has no uint64).
  const at::Tensor mask = at::empty({tiles, count}, dets.options().dtype(at::kLong));
  const at::Tensor removed = at::empty({tiles}, dets.options().dtype(at::kLong));
  const at::Tensor keep = at::empty({count}, dets.options().dtype(at::kBool));
  auto* mask_words = reinterpret_cast<uint64_t*>(mask.data_ptr<int64_t>());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dets.scalar_type(), "nms", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const NmsMask<scalar_t> body{dets.data_ptr<scalar_t>(),
                                 dets.stride(0),
                                 dets.stride(1),
                                 order.data_ptr<int64_t>(),
                                 count,
                                 iou_threshold,
                                 mask_words};
    Backend::blocks(tiles * (tiles + 1) / 2, kNmsTile, kNmsTile * sizeof(NmsBox<acc_t>), body);
  });
  const NmsReduce reduce{mask_words, count, tiles,
                         reinterpret_cast<uint64_t*>(removed.data_ptr<int64_t>()),
                         keep.data_ptr<bool>()};
  Backend::blocks(1, kNmsReduceThreads, (kNmsTile + 1) * sizeof(uint64_t), reduce);
  // The one host synchronisation, and an unavoidable one: how many boxes are
  // kept decides the output's size.
  return order.masked_select(keep);
}

}  // namespace roiserve::ops::cuda
