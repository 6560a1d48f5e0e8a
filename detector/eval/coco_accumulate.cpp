#include "detector/eval/coco_accumulate.h"

#include <algorithm>
#include <limits>

namespace roiserve::eval::detail {
namespace {

struct RankedDetection {
  double score;
  const ImageMatches* image;
  size_t rank;  // within its image, by descending score
};

// All detections of the category, best first. The sort is stable, so ties keep
// image order and then rank, as pycocotools' mergesort over the concatenated
// images does; the first maxDet of each image then come out in the same order
// as sorting them alone would give.
std::vector<RankedDetection> rank_detections(const std::vector<ImageMatches>& images) {
  std::vector<RankedDetection> detections;
  for (const ImageMatches& image : images) {
    for (size_t rank = 0; rank < image.scores.size(); ++rank) {
      detections.push_back({image.scores[rank], &image, rank});
    }
  }
  std::stable_sort(detections.begin(), detections.end(),
                   [](const RankedDetection& a, const RankedDetection& b) {
                     return a.score > b.score;
                   });
  return detections;
}

}  // namespace

void accumulate_category(const std::vector<ImageMatches>& images, size_t k,
                         const CocoParams& params, CocoEvalResult& result) {
  const size_t num_thresholds = params.iou_thresholds.size();
  const size_t num_recalls = params.recall_thresholds.size();
  const size_t num_categories = result.category_ids.size();
  const size_t num_areas = params.area_ranges.size();
  const size_t num_max_dets = params.max_detections.size();
  // numpy.spacing(1): keeps 0 / 0 out of the precision where nothing is counted yet.
  constexpr double kEpsilon = std::numeric_limits<double>::epsilon();

  const std::vector<RankedDetection> ranked = rank_detections(images);
  std::vector<const RankedDetection*> selected;
  std::vector<double> recall_curve, precision_curve;
  for (size_t a = 0; a < num_areas; ++a) {
    int64_t counted_truths = 0;
    for (const ImageMatches& image : images) counted_truths += image.counted_truths[a];
    if (counted_truths == 0) continue;
    for (size_t m = 0; m < num_max_dets; ++m) {
      selected.clear();
      for (const RankedDetection& detection : ranked) {
        if (static_cast<int64_t>(detection.rank) < params.max_detections[m]) {
          selected.push_back(&detection);
        }
      }
      for (size_t t = 0; t < num_thresholds; ++t) {
        recall_curve.clear();
        precision_curve.clear();
        double true_positives = 0, false_positives = 0;
        for (const RankedDetection* detection : selected) {
          const std::vector<Outcome>& outcomes = detection->image->outcomes[a];
          const size_t num_detections = detection->image->scores.size();
          const Outcome outcome = outcomes[t * num_detections + detection->rank];
          true_positives += outcome == Outcome::kTruePositive;
          false_positives += outcome == Outcome::kFalsePositive;
          recall_curve.push_back(true_positives / counted_truths);
          precision_curve.push_back(true_positives / (false_positives + true_positives + kEpsilon));
        }
        const size_t recall_index = (t * num_categories + k) * num_areas * num_max_dets +
                                    a * num_max_dets + m;
        result.recall[recall_index] = recall_curve.empty() ? 0 : recall_curve.back();
        // Interpolate: the precision at a recall is the best at that recall or beyond.
        for (size_t i = precision_curve.size(); i-- > 1;) {
          precision_curve[i - 1] = std::max(precision_curve[i - 1], precision_curve[i]);
        }
        // The first point reaching each recall threshold (numpy.searchsorted,
        // side='left'); thresholds beyond the last recall reached get 0.
        for (size_t r = 0; r < num_recalls; ++r) {
          const auto reached = std::lower_bound(recall_curve.begin(), recall_curve.end(),
                                                params.recall_thresholds[r]);
          const double precision =
              reached == recall_curve.end() ? 0 : precision_curve[reached - recall_curve.begin()];
          result.precision[(((t * num_recalls + r) * num_categories + k) * num_areas + a) *
                               num_max_dets +
                           m] = precision;
        }
      }
    }
  }
}

}  // namespace roiserve::eval::detail
