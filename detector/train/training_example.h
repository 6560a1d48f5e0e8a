#pragma once
// One training image and its ground truth, and where they come from.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "detector/data/dataset.h"
#include "detector/model/targets.h"

namespace roiserve::detector {

struct TrainingExample {
  at::Tensor image;  // [3, H, W] uint8 RGB
  InstanceTargets targets;
};

class TrainingSource {
 public:
  virtual ~TrainingSource() = default;
  // Any index >= 0; a finite source wraps around. Must be callable from a
  // background thread.
  virtual TrainingExample example(int64_t index) const = 0;
};

// shapes-v1 generated on the fly from (seed, index).
std::unique_ptr<TrainingSource> make_shapes_source(uint64_t seed);

// A labelled set (e.g. COCO on disk) for a model with `model_classes`: labels
// are mapped by class name, crowd regions left out, images without any other
// instance skipped (as torchvision's detection references do). `with_masks`
// needs a set with masks. Throws std::invalid_argument when a class of the set
// is not one of the model's, or no image is left.
std::unique_ptr<TrainingSource> make_dataset_source(std::shared_ptr<const LabelledDataset> dataset,
                                                    const std::vector<std::string>& model_classes,
                                                    bool with_masks);

// Mirrors image, boxes and masks left to right.
TrainingExample flip_horizontally(const TrainingExample& example);

}  // namespace roiserve::detector
