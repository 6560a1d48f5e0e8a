#pragma once
// Precision and recall of one category from its per-image matches:
// pycocotools' COCOeval.accumulate.
#include <cstdint>
#include <vector>

#include "detector/eval/coco_eval.h"
#include "detector/eval/coco_match.h"

namespace roiserve::eval::detail {

// One image's detections of one category and their matches.
struct ImageMatches {
  std::vector<double> scores;  // [D], descending, at most the largest maxDets
  // Per area range: [T, D] outcomes, and the number of counted (not ignored)
  // ground truths.
  std::vector<std::vector<Outcome>> outcomes;
  std::vector<int64_t> counted_truths;
};

// Fills category k's entries of precision [T, R, K, A, M] and recall
// [T, K, A, M] (which start at -1) from the images holding a ground truth or a
// detection of the category, in ascending image id order.
void accumulate_category(const std::vector<ImageMatches>& images, size_t k,
                         const CocoParams& params, CocoEvalResult& result);

}  // namespace roiserve::eval::detail
