#pragma once
// Jobs' head variant lists compared as values, so that the batch runner runs
// one head call for the jobs that asked for the same thing and never merges
// two that did not. Every field counts, the thresholds as the numbers they are:
// 0.1234561 and 0.1234564 are different requests. (A key string of printed
// numbers would round them together, and one job would run with the other's.)
#include <algorithm>
#include <tuple>
#include <vector>

#include "detector/model/detector.h"

namespace roiserve::server {

// A variant's fields in a fixed order; std::optional compares its absence
// before any value.
inline auto variant_fields(const detector::HeadRequest& variant) {
  return std::tie(variant.box_head, variant.mask_pooler, variant.masks, variant.score_threshold,
                  variant.nms_iou, variant.max_detections);
}

inline bool same_variants(const std::vector<detector::HeadRequest>& a,
                          const std::vector<detector::HeadRequest>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const detector::HeadRequest& x, const detector::HeadRequest& y) {
                      return variant_fields(x) == variant_fields(y);
                    });
}

// A strict weak order consistent with same_variants: sorting by it puts equal
// lists next to each other.
inline bool variants_before(const std::vector<detector::HeadRequest>& a,
                            const std::vector<detector::HeadRequest>& b) {
  return std::lexicographical_compare(
      a.begin(), a.end(), b.begin(), b.end(),
      [](const detector::HeadRequest& x, const detector::HeadRequest& y) {
        return variant_fields(x) < variant_fields(y);
      });
}

}  // namespace roiserve::server
