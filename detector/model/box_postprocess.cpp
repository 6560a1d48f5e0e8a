#include "detector/model/box_postprocess.h"

#include <ATen/ATen.h>

#include "detector/model/box_coding.h"
#include "ops/ops.h"

namespace roiserve::detector {
namespace {
// torchvision drops boxes narrower or lower than this after decoding.
constexpr double kMinDetectionSize = 1e-2;
}  // namespace

std::vector<BoxDetections> postprocess_boxes(const BoxPrediction& prediction,
                                             const std::vector<at::Tensor>& proposals,
                                             const std::vector<ImageSize>& image_sizes,
                                             const std::vector<double>& box_coder_weights,
                                             const PostprocessConfig& config) {
  const int64_t num_classes = prediction.class_logits.size(1);
  const at::Tensor all_proposals = at::cat(proposals);
  at::Tensor boxes = ops::decode_boxes(prediction.box_deltas, all_proposals, box_coder_weights,
                                       kBoxDeltaClip)
                         .reshape({all_proposals.size(0), -1, 4});
  if (boxes.size(1) == 1) boxes = boxes.expand({-1, num_classes, 4});
  const at::Tensor scores = at::softmax(prediction.class_logits, -1);

  std::vector<BoxDetections> detections;
  int64_t offset = 0;
  for (size_t i = 0; i < proposals.size(); ++i) {
    const int64_t count = proposals[i].size(0);
    at::Tensor image_boxes = ops::clip_boxes_to_image(boxes.narrow(0, offset, count),
                                                      image_sizes[i].height, image_sizes[i].width);
    at::Tensor image_scores = scores.narrow(0, offset, count);
    offset += count;
    at::Tensor labels = at::arange(num_classes, image_scores.options().dtype(at::kLong))
                            .view({1, -1})
                            .expand_as(image_scores);
    image_boxes = image_boxes.narrow(1, 1, num_classes - 1).reshape({-1, 4});
    image_scores = image_scores.narrow(1, 1, num_classes - 1).reshape(-1);
    labels = labels.narrow(1, 1, num_classes - 1).reshape(-1);

    at::Tensor keep = at::nonzero(image_scores > config.score_threshold).squeeze(1);
    keep = keep.index_select(
        0, ops::remove_small_boxes(image_boxes.index_select(0, keep), kMinDetectionSize));
    image_boxes = image_boxes.index_select(0, keep);
    image_scores = image_scores.index_select(0, keep);
    labels = labels.index_select(0, keep);
    keep = ops::batched_nms(image_boxes, image_scores, labels, config.nms_iou);
    keep = keep.narrow(0, 0, std::min(config.max_detections, keep.size(0)));
    detections.push_back({image_boxes.index_select(0, keep), image_scores.index_select(0, keep),
                          labels.index_select(0, keep)});
  }
  return detections;
}

}  // namespace roiserve::detector
