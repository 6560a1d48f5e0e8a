#include "tools/eval/head_comparison.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "detector/data/ground_truth.h"
#include "tools/detector_io/detection_results.h"

namespace roiserve::tools {
namespace {

void record_stages(StageLatencies& latency, const detector::StageTimings& timings) {
  for (const auto& [stage, ms] : timings.entries()) latency[stage].milliseconds.push_back(ms);
}

// The data set's label of each model label (0: a class the data set lacks).
std::vector<int64_t> map_labels(const detector::ModelConfig& model,
                                const std::vector<std::string>& data_classes) {
  std::vector<int64_t> data_label(model.class_names.size() + 1, 0);
  bool shared = false;
  for (size_t k = 0; k < model.class_names.size(); ++k) {
    const auto found = std::find(data_classes.begin(), data_classes.end(), model.class_names[k]);
    if (found != data_classes.end()) {
      data_label[k + 1] = found - data_classes.begin() + 1;
      shared = true;
    }
  }
  if (!shared) {
    throw std::invalid_argument("the data set shares no class name with model '" + model.name +
                                "'");
  }
  return data_label;
}

std::vector<eval::Detection> to_eval_detections(const ImageRecord& record, int64_t image_id,
                                                const std::vector<int64_t>& data_label,
                                                bool with_masks) {
  std::vector<eval::Detection> detections;
  for (const DetectionRecord& detection : record.detections) {
    const int64_t label = data_label[static_cast<size_t>(detection.category_id)];
    if (label == 0) continue;
    eval::Detection out;
    out.image_id = image_id;
    out.category_id = label;
    out.score = detection.score;
    out.bbox = {detection.bbox[0], detection.bbox[1], detection.bbox[2] - detection.bbox[0],
                detection.bbox[3] - detection.bbox[1]};
    if (with_masks) out.segmentation = *detection.segmentation;
    detections.push_back(std::move(out));
  }
  return detections;
}

eval::DetectionSet to_detection_set(const detector::ImageDetections& detections) {
  return {detections.boxes, detections.scores, detections.labels};
}

void append(std::vector<eval::Detection>& to, std::vector<eval::Detection> from) {
  to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

std::vector<std::string> checked(const std::vector<std::string>& requested,
                                 const std::vector<std::string>& available, const char* what) {
  if (requested.empty()) return available;
  for (const std::string& name : requested) {
    if (std::find(available.begin(), available.end(), name) == available.end()) {
      std::string list;
      for (const auto& a : available) list += (list.empty() ? "" : ", ") + a;
      throw std::invalid_argument(std::string("the model has no ") + what + " '" + name +
                                  "' (it has: " + (list.empty() ? "none" : list) + ")");
    }
  }
  return requested;
}

}  // namespace

double StageSamples::mean() const {
  if (milliseconds.empty()) return 0;
  return std::accumulate(milliseconds.begin(), milliseconds.end(), 0.0) /
         static_cast<double>(milliseconds.size());
}

double StageSamples::median() const {
  if (milliseconds.empty()) return 0;
  std::vector<double> sorted = milliseconds;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  return n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}

HeadComparison compare_heads(detector::DetectorImpl& model, const detector::LabelledDataset& data,
                             const std::string& data_description, const ComparisonOptions& options,
                             const std::function<void(int64_t, int64_t)>& progress) {
  HeadComparison result;
  result.model = model.config().name;
  result.data = data_description;
  result.images = data.size();
  result.class_names = data.class_names();
  result.options = options;
  result.options.heads = checked(options.heads, model.box_head_names(), "box head");
  const bool masks = options.masks && !model.mask_pooler_names().empty() && data.has_masks();
  result.options.masks = masks;
  result.options.mask_poolers =
      masks ? checked(options.mask_poolers, model.mask_pooler_names(), "mask pooler")
            : std::vector<std::string>{};
  const std::vector<int64_t> data_label = map_labels(model.config(), data.class_names());

  for (const std::string& head : result.options.heads) {
    result.box_heads.push_back({head, {}, {}, {}, {}});
    for (const std::string& pooler : result.options.mask_poolers) {
      result.masks.push_back({head, pooler, {}, {}, {}});
    }
  }
  const size_t head_count = result.box_heads.size();
  for (size_t a = 0; a < head_count; ++a) {
    for (size_t b = a + 1; b < head_count; ++b) {
      result.agreements.push_back({result.box_heads[a].head, result.box_heads[b].head, {}});
    }
  }

  std::vector<eval::ImageInfo> images;
  std::vector<eval::GroundTruth> truths;
  for (int64_t index = 0; index < data.size(); ++index) {
    const detector::LabelledImage image = data.get(index);
    const int64_t height = image.image.size(1), width = image.image.size(2);
    images.push_back({image.id, height, width});
    detector::append_ground_truths(image, truths);

    // The image goes to the model's device in run_shared; each variant's
    // detections come back to the CPU (timed into its last stage) before
    // they are scored.
    const detector::SharedStages shared = model.run_shared({image.image});
    record_stages(result.shared_latency, shared.timings);
    std::vector<detector::ImageDetections> per_head;
    size_t mask_index = 0;
    for (BoxHeadResult& head : result.box_heads) {
      detector::HeadRequest request;
      request.box_head = head.head;
      request.masks = false;
      detector::StageTimings box_timings;
      std::vector<detector::ImageDetections> detections =
          model.run_box_head(shared, request, box_timings);
      std::vector<detector::ImageDetections> boxes = detections;
      {
        detector::StageTimer timer(box_timings, "postprocess");
        detector::to_cpu(boxes);
      }
      record_stages(head.latency, box_timings);
      append(head.detections, to_eval_detections(make_image_record(image.name, boxes[0],
                                                                   box_timings, model.config()),
                                                 image.id, data_label, false));
      for (size_t p = 0; p < result.options.mask_poolers.size(); ++p, ++mask_index) {
        MaskResult& mask = result.masks[mask_index];
        std::vector<detector::ImageDetections> masked = detections;
        detector::StageTimings mask_timings;
        model.run_mask_head(shared, mask.pooler, masked, mask_timings);
        {
          detector::StageTimer timer(mask_timings, "paste");
          detector::to_cpu(masked);
        }
        record_stages(mask.latency, mask_timings);
        append(mask.detections, to_eval_detections(make_image_record(image.name, masked[0],
                                                                     mask_timings, model.config()),
                                                   image.id, data_label, true));
      }
      per_head.push_back(std::move(boxes[0]));
    }
    size_t pair = 0;
    for (size_t a = 0; a < head_count; ++a) {
      for (size_t b = a + 1; b < head_count; ++b, ++pair) {
        result.agreements[pair].agreement +=
            eval::compare_detections(to_detection_set(per_head[a]), to_detection_set(per_head[b]),
                                     options.agreement_iou, options.agreement_min_score);
      }
    }
    if (progress) progress(index + 1, data.size());
  }

  std::vector<int64_t> category_ids(data.class_names().size());
  std::iota(category_ids.begin(), category_ids.end(), 1);
  std::vector<eval::GroundTruth> agnostic_truths = truths;
  for (auto& truth : agnostic_truths) truth.category_id = 1;
  for (BoxHeadResult& head : result.box_heads) {
    head.bbox =
        eval::evaluate_coco(images, category_ids, truths, head.detections, eval::IouType::kBbox);
    std::vector<eval::Detection> agnostic = head.detections;
    for (auto& detection : agnostic) detection.category_id = 1;
    head.bbox_class_agnostic =
        eval::evaluate_coco(images, {1}, agnostic_truths, agnostic, eval::IouType::kBbox);
  }
  for (MaskResult& mask : result.masks) {
    mask.segm =
        eval::evaluate_coco(images, category_ids, truths, mask.detections, eval::IouType::kSegm);
  }
  return result;
}

}  // namespace roiserve::tools
