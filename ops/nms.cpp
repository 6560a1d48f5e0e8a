#include "ops/nms.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include <vector>

namespace roiserve::ops {

void define_nms_schemas(torch::Library& m) {
  m.def("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor");
}

void define_batched_nms_schemas(torch::Library& m) {
  m.def("batched_nms(Tensor boxes, Tensor scores, Tensor idxs, float iou_threshold) -> Tensor");
}

at::Tensor nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold) {
  static auto op =
      c10::Dispatcher::singleton().findSchemaOrThrow("roiserve::nms", "").typed<decltype(nms)>();
  return op.call(boxes, scores, iou_threshold);
}

at::Tensor batched_nms(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                       double iou_threshold) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("roiserve::batched_nms", "")
                       .typed<decltype(batched_nms)>();
  return op.call(boxes, scores, idxs, iou_threshold);
}

namespace {

// Device-agnostic: one nms per category (through the dispatcher, so it runs on
// whatever device holds the boxes), then the survivors ordered by score.
at::Tensor batched_nms_per_category(const at::Tensor& boxes, const at::Tensor& scores,
                                    const at::Tensor& idxs, double iou_threshold) {
  TORCH_CHECK_VALUE(scores.dim() == 1 && scores.size(0) == boxes.size(0),
                    "batched_nms: scores must have shape [", boxes.size(0),
                    "] to match boxes, got ", scores.sizes());
  TORCH_CHECK_VALUE(idxs.dim() == 1 && idxs.size(0) == boxes.size(0),
                    "batched_nms: idxs must have shape [", boxes.size(0), "] to match boxes, got ",
                    idxs.sizes());
  TORCH_CHECK_TYPE(!at::isFloatingType(idxs.scalar_type()) && idxs.scalar_type() != at::kBool,
                   "batched_nms: idxs must be an integer tensor, got ", idxs.scalar_type());
  TORCH_CHECK_VALUE(idxs.device() == boxes.device(), "batched_nms: idxs must be on ",
                    boxes.device(), " like boxes, got ", idxs.device());
  if (boxes.size(0) == 0) {
    // Let nms validate the shapes and dtypes of the empty inputs.
    return nms(boxes, scores, iou_threshold);
  }
  const at::Tensor categories = std::get<0>(at::_unique(idxs, /*sorted=*/true));
  std::vector<at::Tensor> kept;
  kept.reserve(categories.size(0));
  for (int64_t i = 0; i < categories.size(0); ++i) {
    const at::Tensor members = (idxs == categories[i]).nonzero().squeeze(1);
    kept.push_back(members.index_select(
        0, nms(boxes.index_select(0, members), scores.index_select(0, members), iou_threshold)));
  }
  // Sorting the indices first makes the stable score sort break ties by index.
  const at::Tensor keep = std::get<0>(at::sort(at::cat(kept)));
  const at::Tensor order = std::get<1>(
      scores.index_select(0, keep).sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  return keep.index_select(0, order);
}

}  // namespace

TORCH_LIBRARY_IMPL(roiserve, CompositeImplicitAutograd, m) {
  m.impl("batched_nms", batched_nms_per_category);
}

}  // namespace roiserve::ops
