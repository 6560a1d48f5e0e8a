// COCOeval's evaluate (grouping, IoUs, matching per image and category),
// accumulate (per category, coco_accumulate.cpp) and summarize.
#include "detector/eval/coco_eval.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "detector/eval/coco_accumulate.h"
#include "detector/eval/coco_match.h"
#include "detector/eval/numpy_mean.h"

namespace roiserve::eval {

using detail::ImageMatches;
using detail::TruthForMatching;

namespace {

constexpr size_t kAreaAll = 0, kAreaSmall = 1, kAreaMedium = 2, kAreaLarge = 3;
constexpr size_t kMaxDets1 = 0, kMaxDets10 = 1, kMaxDets100 = 2;

enum class Measure { kPrecision, kRecall };

// numpy.linspace(start, stop, num) value for value: i * step + start, and
// exactly stop at the end. (.5 + 8 * .05 computed otherwise is not .9's double.)
std::vector<double> numpy_linspace(double start, double stop, size_t num) {
  const double step = (stop - start) / static_cast<double>(num - 1);
  std::vector<double> values(num);
  for (size_t i = 0; i + 1 < num; ++i) values[i] = static_cast<double>(i) * step + start;
  values.back() = stop;
  return values;
}

std::invalid_argument input_error(const std::string& message) {
  return std::invalid_argument("evaluate_coco: " + message);
}

// Ids to positions in ascending id order (pycocotools sorts image and category ids).
std::unordered_map<int64_t, size_t> index_sorted_ids(std::vector<int64_t> ids,
                                                     const char* what) {
  std::sort(ids.begin(), ids.end());
  std::unordered_map<int64_t, size_t> index;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!index.emplace(ids[i], i).second) {
      throw input_error(std::string(what) + " id " + std::to_string(ids[i]) + " listed twice");
    }
  }
  return index;
}

size_t position_of(const std::unordered_map<int64_t, size_t>& index, int64_t id,
                   const std::string& owner, const char* what) {
  const auto found = index.find(id);
  if (found == index.end()) {
    throw input_error(owner + " names " + what + " " + std::to_string(id) + ", which is not listed");
  }
  return found->second;
}

bool is_finite(const Box& box) {
  return std::all_of(box.begin(), box.end(), [](double v) { return std::isfinite(v); });
}

// The inputs, checked and indexed, with what the IoUs and area ranges need of
// each annotation precomputed.
class Evaluation {
 public:
  Evaluation(const std::vector<ImageInfo>& images, const std::vector<int64_t>& category_ids,
             const std::vector<GroundTruth>& truths, const std::vector<Detection>& detections,
             IouType iou_type)
      : truths_(truths), detections_(detections), iou_type_(iou_type) {
    std::vector<int64_t> image_ids;
    for (const ImageInfo& image : images) image_ids.push_back(image.id);
    image_index_ = index_sorted_ids(image_ids, "image");
    category_index_ = index_sorted_ids(category_ids, "category");
    num_images_ = images.size();
    image_sizes_.resize(num_images_);
    for (const ImageInfo& image : images) {
      image_sizes_[image_index_.at(image.id)] = {image.height, image.width};
    }
    truth_groups_ = group_truths();
    detection_groups_ = group_detections();
  }

  size_t num_categories() const { return category_index_.size(); }

  // The matches of category k in every image holding a ground truth or a
  // detection of it, in ascending image id order.
  std::vector<ImageMatches> match_category(size_t k) const {
    const CocoParams& params = coco_params();
    std::vector<ImageMatches> matches;
    for (size_t i = 0; i < num_images_; ++i) {
      const std::vector<size_t>& truths = truth_groups_[k * num_images_ + i];
      const std::vector<size_t>& detections = detection_groups_[k * num_images_ + i];
      if (truths.empty() && detections.empty()) continue;
      const std::vector<size_t> ranked = rank_detections(detections);
      const std::vector<double> ious = compute_ious(ranked, truths);

      ImageMatches image;
      for (size_t d : ranked) image.scores.push_back(detections_[d].score);
      for (const AreaRange& range : params.area_ranges) {
        const auto outside = [&](double area) {
          return area < range.min_area || area > range.max_area;
        };
        std::vector<TruthForMatching> matching_truths;
        int64_t counted = 0;
        for (size_t g : truths) {
          const GroundTruth& truth = truths_[g];
          const bool ignored = truth.is_crowd || truth.ignore || outside(truth.area);
          matching_truths.push_back({truth.is_crowd, ignored});
          counted += !ignored;
        }
        std::vector<bool> detection_outside;
        for (size_t d : ranked) detection_outside.push_back(outside(detection_area_[d]));
        image.outcomes.push_back(detail::match_detections(ious, matching_truths, detection_outside,
                                                          params.iou_thresholds));
        image.counted_truths.push_back(counted);
      }
      matches.push_back(std::move(image));
    }
    return matches;
  }

 private:
  std::vector<std::vector<size_t>> group_truths() {
    std::vector<std::vector<size_t>> groups(num_categories() * num_images_);
    std::unordered_map<int64_t, size_t> seen_ids;
    for (size_t g = 0; g < truths_.size(); ++g) {
      const GroundTruth& truth = truths_[g];
      const std::string owner = "ground truth " + std::to_string(truth.id);
      if (truth.id == 0) {
        throw input_error("ground truth id 0 is reserved (pycocotools takes a match to it for none)");
      }
      if (!seen_ids.emplace(truth.id, g).second) throw input_error(owner + " listed twice");
      const size_t i = position_of(image_index_, truth.image_id, owner, "image");
      const size_t k = position_of(category_index_, truth.category_id, owner, "category");
      if (!std::isfinite(truth.area)) throw input_error(owner + " has a non-finite area");
      if (iou_type_ == IouType::kBbox) {
        if (!is_finite(truth.bbox)) throw input_error(owner + " has a non-finite bbox");
        truth_region_boxes_.push_back(truth.bbox);
      } else {
        check_segmentation(truth.segmentation, i, owner);
        truth_region_boxes_.push_back(to_bbox(truth.segmentation));
      }
      groups[k * num_images_ + i].push_back(g);
    }
    return groups;
  }

  std::vector<std::vector<size_t>> group_detections() {
    std::vector<std::vector<size_t>> groups(num_categories() * num_images_);
    for (size_t d = 0; d < detections_.size(); ++d) {
      const Detection& detection = detections_[d];
      const std::string owner = "detection " + std::to_string(d);
      const size_t i = position_of(image_index_, detection.image_id, owner, "image");
      const size_t k = position_of(category_index_, detection.category_id, owner, "category");
      if (std::isnan(detection.score)) throw input_error(owner + " has a NaN score");
      if (iou_type_ == IouType::kBbox) {
        if (!is_finite(detection.bbox)) throw input_error(owner + " has a non-finite bbox");
        detection_region_boxes_.push_back(detection.bbox);
        detection_area_.push_back(detection.bbox[2] * detection.bbox[3]);
      } else {
        check_segmentation(detection.segmentation, i, owner);
        detection_region_boxes_.push_back(to_bbox(detection.segmentation));
        detection_area_.push_back(static_cast<double>(area(detection.segmentation)));
      }
      groups[k * num_images_ + i].push_back(d);
    }
    return groups;
  }

  void check_segmentation(const Rle& segmentation, size_t image, const std::string& owner) const {
    const auto [height, width] = image_sizes_[image];
    if (segmentation.height != height || segmentation.width != width) {
      throw input_error(owner + " has a " + std::to_string(segmentation.height) + " x " +
                        std::to_string(segmentation.width) + " segmentation on a " +
                        std::to_string(height) + " x " + std::to_string(width) + " image");
    }
  }

  // Highest score first, ties in the given order (pycocotools' mergesort),
  // cut to the largest maxDets.
  std::vector<size_t> rank_detections(std::vector<size_t> detections) const {
    std::stable_sort(detections.begin(), detections.end(), [&](size_t a, size_t b) {
      return detections_[a].score > detections_[b].score;
    });
    const auto kept = static_cast<size_t>(coco_params().max_detections.back());
    if (detections.size() > kept) detections.resize(kept);
    return detections;
  }

  // [D, G] row-major.
  std::vector<double> compute_ious(const std::vector<size_t>& ranked_detections,
                                   const std::vector<size_t>& truths) const {
    std::vector<double> ious;
    ious.reserve(ranked_detections.size() * truths.size());
    for (size_t d : ranked_detections) {
      for (size_t g : truths) {
        const bool crowd = truths_[g].is_crowd;
        // For masks the boxes only rule pairs out: masks whose boxes do not
        // overlap cannot intersect.
        const double box_iou = iou(detection_region_boxes_[d], truth_region_boxes_[g], crowd);
        if (iou_type_ == IouType::kSegm && box_iou > 0) {
          ious.push_back(iou(detections_[d].segmentation, truths_[g].segmentation, crowd));
        } else {
          ious.push_back(box_iou);
        }
      }
    }
    return ious;
  }

  const std::vector<GroundTruth>& truths_;
  const std::vector<Detection>& detections_;
  IouType iou_type_;
  std::unordered_map<int64_t, size_t> image_index_;
  std::unordered_map<int64_t, size_t> category_index_;
  size_t num_images_ = 0;
  std::vector<std::pair<int64_t, int64_t>> image_sizes_;  // [height, width] by position
  std::vector<Box> truth_region_boxes_;                   // by ground truth
  std::vector<Box> detection_region_boxes_;               // by detection
  std::vector<double> detection_area_;                    // by detection
  std::vector<std::vector<size_t>> truth_groups_;         // [K, I] -> ground truths
  std::vector<std::vector<size_t>> detection_groups_;     // [K, I] -> detections
};

size_t iou_threshold_index(double threshold) {
  // pycocotools selects AP50 and AP75 by exact equality with its thresholds.
  const std::vector<double>& thresholds = coco_params().iou_thresholds;
  return std::find(thresholds.begin(), thresholds.end(), threshold) - thresholds.begin();
}

// pycocotools' _summarize: the mean of the entries other than -1, or -1.
// `iou` selects one threshold, or all of them when unset.
double summarize(const CocoEvalResult& result, Measure measure, std::optional<double> iou,
                 size_t area_range, size_t max_dets) {
  const bool precision = measure == Measure::kPrecision;
  const CocoParams& params = coco_params();
  const size_t num_thresholds = params.iou_thresholds.size();
  const size_t num_recalls = params.recall_thresholds.size();
  const size_t num_categories = result.category_ids.size();
  std::vector<double> values;
  // numpy's order: threshold, then recall threshold, then category.
  for (size_t t = 0; t < num_thresholds; ++t) {
    if (iou && t != iou_threshold_index(*iou)) continue;
    for (size_t r = 0; r < (precision ? num_recalls : 1); ++r) {
      for (size_t k = 0; k < num_categories; ++k) {
        const double value = precision ? result.precision_at(t, r, k, area_range, max_dets)
                                       : result.recall_at(t, k, area_range, max_dets);
        if (value > -1) values.push_back(value);
      }
    }
  }
  return values.empty() ? -1 : detail::numpy_mean(values);
}

// Detectron2's per-category AP: precision[:, :, k, all, 100] entries other than -1.
double category_ap(const CocoEvalResult& result, size_t k) {
  const CocoParams& params = coco_params();
  std::vector<double> values;
  for (size_t t = 0; t < params.iou_thresholds.size(); ++t) {
    for (size_t r = 0; r < params.recall_thresholds.size(); ++r) {
      const double value = result.precision_at(t, r, k, kAreaAll, kMaxDets100);
      if (value > -1) values.push_back(value);
    }
  }
  return values.empty() ? -1 : detail::numpy_mean(values);
}

}  // namespace

const CocoParams& coco_params() {
  static const CocoParams params{
      numpy_linspace(.5, .95, 10),
      numpy_linspace(0, 1, 101),
      {1, 10, 100},
      {{"all", 0, 1e10}, {"small", 0, 32 * 32}, {"medium", 32 * 32, 96 * 96}, {"large", 96 * 96, 1e10}}};
  return params;
}

double CocoEvalResult::precision_at(size_t iou, size_t recall_threshold, size_t category,
                                    size_t area_range, size_t max_detections) const {
  const CocoParams& params = coco_params();
  const size_t num_areas = params.area_ranges.size();
  const size_t num_max_dets = params.max_detections.size();
  return precision[(((iou * params.recall_thresholds.size() + recall_threshold) *
                         category_ids.size() +
                     category) *
                        num_areas +
                    area_range) *
                       num_max_dets +
                   max_detections];
}

double CocoEvalResult::recall_at(size_t iou, size_t category, size_t area_range,
                                 size_t max_detections) const {
  const CocoParams& params = coco_params();
  const size_t num_areas = params.area_ranges.size();
  const size_t num_max_dets = params.max_detections.size();
  return recall[((iou * category_ids.size() + category) * num_areas + area_range) * num_max_dets +
                max_detections];
}

CocoEvalResult evaluate_coco(const std::vector<ImageInfo>& images,
                             const std::vector<int64_t>& category_ids,
                             const std::vector<GroundTruth>& ground_truths,
                             const std::vector<Detection>& detections, IouType iou_type) {
  const Evaluation evaluation(images, category_ids, ground_truths, detections, iou_type);
  const CocoParams& params = coco_params();
  CocoEvalResult result;
  result.category_ids = category_ids;
  std::sort(result.category_ids.begin(), result.category_ids.end());
  const size_t num_categories = result.category_ids.size();
  const size_t num_settings = num_categories * params.area_ranges.size() *
                              params.max_detections.size() * params.iou_thresholds.size();
  result.precision.assign(num_settings * params.recall_thresholds.size(), -1);
  result.recall.assign(num_settings, -1);
  for (size_t k = 0; k < num_categories; ++k) {
    detail::accumulate_category(evaluation.match_category(k), k, params, result);
  }

  result.stats = {summarize(result, Measure::kPrecision, std::nullopt, kAreaAll, kMaxDets100),
                  summarize(result, Measure::kPrecision, .5, kAreaAll, kMaxDets100),
                  summarize(result, Measure::kPrecision, .75, kAreaAll, kMaxDets100),
                  summarize(result, Measure::kPrecision, std::nullopt, kAreaSmall, kMaxDets100),
                  summarize(result, Measure::kPrecision, std::nullopt, kAreaMedium, kMaxDets100),
                  summarize(result, Measure::kPrecision, std::nullopt, kAreaLarge, kMaxDets100),
                  summarize(result, Measure::kRecall, std::nullopt, kAreaAll, kMaxDets1),
                  summarize(result, Measure::kRecall, std::nullopt, kAreaAll, kMaxDets10),
                  summarize(result, Measure::kRecall, std::nullopt, kAreaAll, kMaxDets100),
                  summarize(result, Measure::kRecall, std::nullopt, kAreaSmall, kMaxDets100),
                  summarize(result, Measure::kRecall, std::nullopt, kAreaMedium, kMaxDets100),
                  summarize(result, Measure::kRecall, std::nullopt, kAreaLarge, kMaxDets100)};
  for (size_t k = 0; k < num_categories; ++k) result.category_ap.push_back(category_ap(result, k));
  return result;
}

}  // namespace roiserve::eval
