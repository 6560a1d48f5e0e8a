#pragma once
// A labelled image's instances as COCOeval ground truth (boxes as x, y,
// width, height; never "ignore", which pycocotools cannot express).
#include <vector>

#include "detector/data/dataset.h"
#include "detector/eval/coco_eval.h"

namespace roiserve::detector {

void append_ground_truths(const LabelledImage& image, std::vector<eval::GroundTruth>& truths);

}  // namespace roiserve::detector
