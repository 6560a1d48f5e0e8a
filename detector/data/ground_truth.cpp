#include "detector/data/ground_truth.h"

namespace roiserve::detector {

void append_ground_truths(const LabelledImage& image, std::vector<eval::GroundTruth>& truths) {
  for (const Instance& instance : image.instances) {
    const auto& [x1, y1, x2, y2] = instance.box;
    truths.push_back({instance.id, image.id, instance.label, {x1, y1, x2 - x1, y2 - y1},
                      instance.area, instance.is_crowd, false, instance.mask});
  }
}

}  // namespace roiserve::detector
