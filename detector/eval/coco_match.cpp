#include "detector/eval/coco_match.h"

#include <algorithm>
#include <numeric>

namespace roiserve::eval::detail {

std::vector<Outcome> match_detections(const std::vector<double>& ious,
                                      const std::vector<TruthForMatching>& truths,
                                      const std::vector<bool>& detection_outside_area,
                                      const std::vector<double>& iou_thresholds) {
  const size_t num_truths = truths.size();
  const size_t num_detections = detection_outside_area.size();
  // Counted ground truths first, each group in its given order: a detection
  // settles for an ignored one only when no counted one matches.
  std::vector<size_t> truth_order(num_truths);
  std::iota(truth_order.begin(), truth_order.end(), 0);
  std::stable_partition(truth_order.begin(), truth_order.end(),
                        [&](size_t g) { return !truths[g].ignored; });

  std::vector<Outcome> outcomes(iou_thresholds.size() * num_detections);
  std::vector<bool> truth_taken(num_truths);
  for (size_t t = 0; t < iou_thresholds.size(); ++t) {
    std::fill(truth_taken.begin(), truth_taken.end(), false);
    for (size_t d = 0; d < num_detections; ++d) {
      const double* detection_ious = ious.data() + d * num_truths;
      // Greedy in score order: the best still-free ground truth at or above
      // the threshold (pycocotools caps it just below 1 so that IoU 1 matches).
      double best_iou = std::min(iou_thresholds[t], 1 - 1e-10);
      const TruthForMatching* best = nullptr;
      size_t best_index = 0;
      for (size_t g : truth_order) {
        const TruthForMatching& truth = truths[g];
        if (truth_taken[g] && !truth.is_crowd) continue;
        if (best != nullptr && !best->ignored && truth.ignored) break;
        if (detection_ious[g] < best_iou) continue;
        best_iou = detection_ious[g];
        best = &truth;
        best_index = g;
      }
      Outcome& outcome = outcomes[t * num_detections + d];
      if (best != nullptr) {
        truth_taken[best_index] = true;
        outcome = best->ignored ? Outcome::kIgnored : Outcome::kTruePositive;
      } else {
        outcome = detection_outside_area[d] ? Outcome::kIgnored : Outcome::kFalsePositive;
      }
    }
  }
  return outcomes;
}

}  // namespace roiserve::eval::detail
