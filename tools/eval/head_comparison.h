#pragma once
// The offline A/B run: one pass over a labelled data set in which the backbone
// and the proposals are computed once per image and every box head (and every
// mask pooler, on each head's detections) reads them; COCO metrics, per-stage
// latencies and agreement between heads come out.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "detector/data/dataset.h"
#include "detector/eval/agreement.h"
#include "detector/eval/coco_eval.h"
#include "detector/model/detector.h"

namespace roiserve::tools {

struct ComparisonOptions {
  std::vector<std::string> heads;         // empty: every head of the model
  std::vector<std::string> mask_poolers;  // empty: every pooler of the model
  bool masks = true;                      // false: boxes only
  double agreement_iou = 0.5;
  double agreement_min_score = 0.5;  // detections below take no part in the agreement
};

// Milliseconds of one stage over the images.
struct StageSamples {
  std::vector<double> milliseconds;
  double mean() const;
  double median() const;
};
using StageLatencies = std::map<std::string, StageSamples>;

struct BoxHeadResult {
  std::string head;
  std::vector<eval::Detection> detections;  // category ids: the data set's labels
  eval::CocoEvalResult bbox;
  eval::CocoEvalResult bbox_class_agnostic;  // every class as one: localisation alone
  StageLatencies latency;                    // box_pool, box_head, postprocess
};

struct MaskResult {
  std::string head;
  std::string pooler;
  std::vector<eval::Detection> detections;
  eval::CocoEvalResult segm;
  StageLatencies latency;  // mask_pool, mask_head, paste
};

struct HeadAgreement {
  std::string head_a;
  std::string head_b;
  eval::Agreement agreement;
};

struct HeadComparison {
  std::string model;
  std::string data;  // what was evaluated, in words
  int64_t images = 0;
  std::vector<std::string> class_names;  // the data set's: category id k is class_names[k - 1]
  StageLatencies shared_latency;         // preprocess, backbone, rpn
  std::vector<BoxHeadResult> box_heads;
  std::vector<MaskResult> masks;
  std::vector<HeadAgreement> agreements;  // every pair of heads
  ComparisonOptions options;
};

// progress(done, total) after each image. Throws std::invalid_argument for an
// unknown head or pooler, or a data set that shares no class with the model.
HeadComparison compare_heads(detector::DetectorImpl& model, const detector::LabelledDataset& data,
                             const std::string& data_description, const ComparisonOptions& options,
                             const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace roiserve::tools
